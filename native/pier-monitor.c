/*
 * pier-monitor: one small process per running container (and per exec), the
 * parent of its processes. It holds their stdio, writes the log, serves attach
 * clients, and records the exit status; it outlives pierd, so live restore is
 * just reconnecting to its socket.
 *
 *   pier-monitor --dir D --id ID --runtime runc [--runtime-root R] [--runtime-arg A]...
 *                (--bundle B | --exec PROCESS_JSON) [--log FILE] [--oom FILE]
 *                [--tty] [--stdin] [--stdin-once] [--wait-attach]
 *
 * Start-up, reported on fd 3 as lines: "ready" once D/sock listens, then
 * "ok <pid>" after `runc create` (or `runc exec -d`) succeeded, or
 * "err <message>" (and the monitor exits). The monitor is a child subreaper, so
 * the container's init (or the exec'd process) becomes its child once runc exits.
 *
 * Clients connect to D/sock and send one op byte:
 *   'A' <flags>  attach: bit0 stdin, bit1 stdout, bit2 stderr. The monitor answers
 *                with an empty frame of stream 0 (the ack: all later output
 *                reaches this client), then sends
 *                frames in Docker's multiplexed format (stream byte, 3 zeros,
 *                u32 BE length, data; tty output is stream 1); the client's
 *                further bytes go to the container's stdin.
 *   'W'          wait.
 *   'R' <u16 rows> <u16 cols>   resize the terminal (BE).
 *   'S'          `runc start` (container mode): answers "0", or "1" and runc's error.
 * At exit every attach and wait client gets a frame with stream 3 and a 4-byte
 * BE exit code, then the connection closes. D/exit holds
 * "<code> <oom kills> <finished ns>" (written atomically before that).
 *
 * Log records: 16-byte header (stream, flags: 1 = partial line, 2 zero bytes,
 * u32 BE length, u64 BE nanoseconds since the epoch), then the bytes of one
 * line (with its "\n") or of a line's fragment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_RT_ARGS 16
#define BUF (64 * 1024)

static const char *dir, *id, *runtime = "runc", *runtime_root, *bundle, *exec_spec, *log_path, *oom_path;
static const char *rt_args[MAX_RT_ARGS];
static int n_rt_args, tty, want_stdin, stdin_once, wait_attach, delete_on_exit;

static int sync_fd = 3, log_fd = -1, listen_fd = -1;
/* --log-opt max-size / max-file: rotate at this size, keeping this many files in all. */
static long long log_max_size, log_size;
static int log_max_files = 1;
static int out_fd = -1, err_fd = -1, in_fd = -1; /* our ends; tty: out_fd == in_fd == pty master */

/*
 * Input for the container's stdin waits here when the container does not read
 * it: the monitor never blocks on stdin (it must go on logging and serving), and
 * clients are not read while this is full, so a flood stops at their sockets.
 */
#define STDIN_MAX (256 * 1024)
static char stdin_buf[STDIN_MAX];
static size_t stdin_len;
static pid_t child = -1;                          /* the container's init or the exec'd process */
static int exited, exit_code;
static uint64_t exit_ns; /* when the process was reaped: State.FinishedAt */

struct client {
  int fd;
  char op;      /* 0 until the op byte arrived */
  int flags;    /* attach flags */
  char hdr[4];  /* resize payload */
  int nhdr;
  int in_closed; /* the client half-closed: no more input, output still flows */
};
static struct client clients[MAX_CLIENTS];

/* Early exits (before "ok") are reaped here; the child may exit before runc exec -d returns. */
static struct { pid_t pid; int status; } early[32];
static int n_early;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
  if (sync_fd < 0) return;
  char b[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof b - 2) n = sizeof b - 2;
  for (int i = 0; i < n; i++) if (b[i] == '\n') b[i] = ' ';
  b[n++] = '\n';
  if (write(sync_fd, b, n) < 0) { /* the daemon went away; carry on */ }
}

static void fail(const char *msg) {
  report("err %s", msg);
  if (dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/sock", dir);
    unlink(p);
  }
  exit(1);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* ---- log ---------------------------------------------------------------- */

static unsigned char logbuf[BUF * 2 + 4096];

/* LOG.1 is the newest rotated file, LOG.<max-file - 1> the oldest; with max-file 1 the log starts over. */
static void rotate_log(void) {
  char from[4096], to[4096];
  if (log_max_files > 1) {
    snprintf(to, sizeof to, "%s.%d", log_path, log_max_files - 1);
    unlink(to);
    for (int i = log_max_files - 2; i >= 1; i--) {
      snprintf(from, sizeof from, "%s.%d", log_path, i);
      snprintf(to, sizeof to, "%s.%d", log_path, i + 1);
      rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", log_path);
    rename(log_path, to);
    close(log_fd);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  } else if (ftruncate(log_fd, 0) < 0) {
    return;
  }
  log_size = 0;
}

/* One record per line; a trailing fragment is a record marked partial. */
static void log_chunk(int stream, const char *data, size_t n) {
  if (log_fd < 0) return;
  uint64_t ts = now_ns();
  size_t off = 0, used = 0;
  while (off < n) {
    const char *nl = memchr(data + off, '\n', n - off);
    size_t len = nl ? (size_t)(nl - (data + off)) + 1 : n - off;
    unsigned char *h = logbuf + used;
    h[0] = (unsigned char)stream;
    h[1] = nl ? 0 : 1;
    h[2] = h[3] = 0;
    put32(h + 4, (uint32_t)len);
    put32(h + 8, (uint32_t)(ts >> 32));
    put32(h + 12, (uint32_t)ts);
    memcpy(h + 16, data + off, len);
    used += 16 + len;
    off += len;
    if (used > sizeof logbuf - BUF - 64) {
      write_all(log_fd, logbuf, used);
      log_size += (long long)used;
      used = 0;
    }
  }
  if (used) write_all(log_fd, logbuf, used);
  log_size += (long long)used;
  if (log_max_size > 0 && log_size >= log_max_size) rotate_log();
}

/* ---- clients ------------------------------------------------------------ */

static void drop(struct client *c) {
  close(c->fd);
  c->fd = -1;
  c->op = 0;
}

static void send_frame(struct client *c, int stream, const void *data, size_t n) {
  unsigned char h[8] = {(unsigned char)stream, 0, 0, 0};
  put32(h + 4, (uint32_t)n);
  if (write_all(c->fd, h, 8) < 0 || write_all(c->fd, data, n) < 0) drop(c);
}

static void broadcast(int stream, const char *data, size_t n) {
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd >= 0 && c->op == 'A' && (c->flags & (stream == 1 ? 2 : 4))) send_frame(c, stream, data, n);
  }
}

static void close_stdin(void) {
  stdin_len = 0;
  if (in_fd >= 0 && !tty) {
    close(in_fd);
    in_fd = -1;
  }
}

static void resize(unsigned rows, unsigned cols) {
  if (!tty || out_fd < 0) return;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(out_fd, TIOCSWINSZ, &ws);
}

static void accept_client(void) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return;
  /* A stuck reader must not stall the container for ever. */
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].fd < 0) {
      clients[i] = (struct client){.fd = fd};
      return;
    }
  close(fd);
}

static void start_container(struct client *c);

/* Writes what waits for stdin as far as the container takes it now (in_fd is non-blocking). */
static void flush_stdin(void) {
  while (stdin_len > 0 && in_fd >= 0) {
    ssize_t w = write(in_fd, stdin_buf, stdin_len);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      close_stdin(); /* the container closed its stdin */
      return;
    }
    memmove(stdin_buf, stdin_buf + w, stdin_len - (size_t)w);
    stdin_len -= (size_t)w;
  }
}

/* Reads what a client sent: its op, then stdin bytes (attach) or the size (resize). */
static void client_input(struct client *c) {
  char b[BUF];
  /* Attached input is read only as far as it can be queued for the container. */
  size_t room = c->op == 'A' && c->flags >= 0 && (c->flags & 1) ? STDIN_MAX - stdin_len : sizeof b;
  if (room == 0) return;
  ssize_t n = read(c->fd, b, room < sizeof b ? room : sizeof b);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    if (c->op == 'A' && (c->flags & 1) && stdin_once) close_stdin();
    if (n == 0 && (c->op == 'A' || c->op == 'W')) c->in_closed = 1;
    else drop(c);
    return;
  }
  size_t off = 0;
  while (off < (size_t)n) {
    if (!c->op) {
      c->op = b[off++];
      if (c->op == 'S') { start_container(c); return; }
      if (c->op != 'A' && c->op != 'W' && c->op != 'R') { drop(c); return; }
      c->flags = -1;
      continue;
    }
    if (c->op == 'A' && c->flags < 0) {
      c->flags = (unsigned char)b[off++];
      /* The ack: from here on this client gets every byte of output. */
      send_frame(c, 0, "", 0);
      if (c->fd < 0) return;
      continue;
    }
    if (c->op == 'R') {
      while (off < (size_t)n && c->nhdr < 4) c->hdr[c->nhdr++] = b[off++];
      if (c->nhdr == 4) {
        resize(((unsigned char)c->hdr[0] << 8) | (unsigned char)c->hdr[1], ((unsigned char)c->hdr[2] << 8) | (unsigned char)c->hdr[3]);
        drop(c);
      }
      return;
    }
    if (c->op == 'A' && (c->flags & 1) && in_fd >= 0) {
      /* Queued behind what waits already; the rest of this read is kept (the caller reads at most what fits). */
      size_t len = (size_t)n - off;
      if (len > STDIN_MAX - stdin_len) len = STDIN_MAX - stdin_len;
      memcpy(stdin_buf + stdin_len, b + off, len);
      stdin_len += len;
      flush_stdin();
    }
    return;
  }
}

/* ---- process ------------------------------------------------------------- */

static int status_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

static void reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (child > 0 && p == child) {
      exited = 1;
      exit_code = status_code(st);
      exit_ns = now_ns();
    } else if (child <= 0 && n_early < 32) {
      early[n_early].pid = p;
      early[n_early++].status = st;
    }
  }
}

/* The last "msg" of runc's JSON log at level error, else the tail of its stderr. */
static void runtime_error(const char *logfile, char *out, size_t outn) {
  snprintf(out, outn, "runtime failed");
  FILE *f = fopen(logfile, "r");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    if (!strstr(line, "\"level\":\"error\"") && !strstr(line, "\"level\":\"fatal\"")) continue;
    char *m = strstr(line, "\"msg\":\"");
    if (!m) continue;
    m += 7;
    size_t j = 0;
    for (char *s = m; *s && *s != '\n' && j + 1 < outn; s++) {
      if (*s == '\\' && s[1]) {
        s++;
        out[j++] = *s == 'n' ? ' ' : *s == 't' ? ' ' : *s;
        continue;
      }
      if (*s == '"') break;
      out[j++] = *s;
    }
    out[j] = 0;
  }
  fclose(f);
}

static int recv_fd(int sock) {
  char buf[1];
  struct iovec iov = {.iov_base = buf, .iov_len = 1};
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static int listen_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) fail("socket path too long");
  strcpy(a.sun_path, path);
  unlink(path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) fail("cannot listen on the monitor socket");
  chmod(path, 0600);
  return fd;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, var) if (!strcmp(a, name) && v) { var = v; i++; continue; }
    OPT("--dir", dir) OPT("--id", id) OPT("--runtime", runtime) OPT("--runtime-root", runtime_root)
    OPT("--bundle", bundle) OPT("--exec", exec_spec) OPT("--log", log_path) OPT("--oom", oom_path)
#undef OPT
    if (!strcmp(a, "--runtime-arg") && v && n_rt_args < MAX_RT_ARGS) { rt_args[n_rt_args++] = v; i++; continue; }
    if (!strcmp(a, "--tty")) { tty = 1; continue; }
    if (!strcmp(a, "--stdin")) { want_stdin = 1; continue; }
    if (!strcmp(a, "--stdin-once")) { stdin_once = 1; continue; }
    if (!strcmp(a, "--wait-attach")) { wait_attach = 1; continue; }
    if (!strcmp(a, "--delete")) { delete_on_exit = 1; continue; }
    if (!strcmp(a, "--log-max-size") && v) { log_max_size = atoll(v); i++; continue; }
    if (!strcmp(a, "--log-max-files") && v) { log_max_files = atoi(v) > 0 ? atoi(v) : 1; i++; continue; }
    fprintf(stderr, "pier-monitor: unknown argument %s\n", a);
    exit(2);
  }
  if (!dir || !id || (!bundle == !exec_spec)) {
    fprintf(stderr, "usage: pier-monitor --dir D --id ID (--bundle B | --exec SPEC) [...]\n");
    exit(2);
  }
}

/* Runs `runc create` or `runc exec -d` with our pipes as its stdio; returns the container process's pid. */
static pid_t run_runtime(void) {
  char pidfile[4096], rtlog[4096], console[4096];
  snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
  snprintf(rtlog, sizeof rtlog, "%s/runtime.log", dir);
  snprintf(console, sizeof console, "%s/console.sock", dir);
  unlink(pidfile);
  unlink(rtlog);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, csock = -1;
  if (tty) {
    csock = listen_unix(console);
  } else {
    if (want_stdin && pipe2(in, O_CLOEXEC) < 0) fail("pipe");
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) fail("pipe");
  }

  const char *argv[64];
  int n = 0;
  argv[n++] = runtime;
  if (runtime_root) { argv[n++] = "--root"; argv[n++] = runtime_root; }
  argv[n++] = "--log"; argv[n++] = rtlog;
  argv[n++] = "--log-format"; argv[n++] = "json";
  for (int i = 0; i < n_rt_args; i++) argv[n++] = rt_args[i];
  if (bundle) {
    argv[n++] = "create";
    argv[n++] = "--bundle"; argv[n++] = bundle;
  } else {
    argv[n++] = "exec";
    argv[n++] = "--detach";
    argv[n++] = "--process"; argv[n++] = exec_spec;
  }
  argv[n++] = "--pid-file"; argv[n++] = pidfile;
  if (tty) { argv[n++] = "--console-socket"; argv[n++] = console; }
  argv[n++] = id;
  argv[n] = NULL;

  pid_t rt = fork();
  if (rt < 0) fail("fork");
  if (rt == 0) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC); /* dup2 below clears CLOEXEC on 0-2 only */
    dup2(tty ? devnull : (in[0] >= 0 ? in[0] : devnull), 0);
    dup2(tty ? devnull : out[1], 1);
    dup2(tty ? devnull : err[1], 2);
    execvp(runtime, (char *const *)argv);
    _exit(127);
  }
  if (!tty) {
    if (in[0] >= 0) close(in[0]);
    close(out[1]);
    close(err[1]);
    in_fd = in[1];
    if (in_fd >= 0) fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    out_fd = out[0];
    err_fd = err[0];
  }

  /* Wait for runc itself; anything else that exits meanwhile is kept for later. */
  int st;
  for (;;) {
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) fail("waitpid");
    if (p == rt) break;
    if (n_early < 32) { early[n_early].pid = p; early[n_early++].status = st; }
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char msg[4096];
    runtime_error(rtlog, msg, sizeof msg);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !strcmp(msg, "runtime failed"))
      snprintf(msg, sizeof msg, "%s: executable file not found in $PATH", runtime);
    fail(msg);
  }
  if (tty) {
    int c = accept4(csock, NULL, NULL, SOCK_CLOEXEC);
    int m = c >= 0 ? recv_fd(c) : -1;
    if (c >= 0) close(c);
    close(csock);
    unlink(console);
    if (m < 0) fail("the runtime sent no terminal");
    out_fd = in_fd = m;
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
  }
  char b[32] = {0};
  int pf = open(pidfile, O_RDONLY | O_CLOEXEC);
  if (pf < 0 || read(pf, b, sizeof b - 1) <= 0) fail("the runtime wrote no pid file");
  close(pf);
  return (pid_t)atoi(b);
}

/* Runs `runc <args...>` to completion with /dev/null as stdio; its exit status, or -1. */
static int run_rt(const char *const *args, int nargs) {
  const char *argv[MAX_RT_ARGS + 16];
  int n = 0;
  argv[n++] = runtime;
  if (runtime_root) { argv[n++] = "--root"; argv[n++] = runtime_root; }
  for (int i = 0; i < n_rt_args; i++) argv[n++] = rt_args[i];
  for (int i = 0; i < nargs; i++) argv[n++] = args[i];
  argv[n] = NULL;
  pid_t p = fork();
  if (p < 0) return -1;
  if (p == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC); /* dup2 below clears CLOEXEC on 0-2 only */
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execvp(runtime, (char *const *)argv);
    _exit(127);
  }
  int st;
  while (waitpid(p, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * 'S': `runc start`, run here rather than by pierd (a fork of this small
 * process is cheaper than one of the daemon). Answers "0" or "1<message>".
 */
static void start_container(struct client *c) {
  char rtlog[4096];
  snprintf(rtlog, sizeof rtlog, "%s/runtime.log", dir);
  const char *args[] = {"--log", rtlog, "--log-format", "json", "start", id};
  int rc = bundle ? run_rt(args, 6) : -1;
  if (rc == 0) {
    write_all(c->fd, "0", 1);
  } else {
    char msg[4096];
    msg[0] = '1';
    runtime_error(rtlog, msg + 1, sizeof msg - 1);
    write_all(c->fd, msg, strlen(msg));
  }
  drop(c);
}

static void write_exit(void) {
  long long ooms = 0;
  if (oom_path) {
    FILE *f = fopen(oom_path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
      if (!strncmp(line, "oom_kill ", 9)) ooms = atoll(line + 9);
    if (f) fclose(f);
  }
  if (delete_on_exit && bundle) {
    /* The runtime's record and cgroup go (after the OOM count was read) before anyone is told. */
    const char *args[] = {"delete", "--force", id};
    run_rt(args, 3);
  }
  char tmp[4096], fin[4096], b[128];
  snprintf(tmp, sizeof tmp, "%s/exit.tmp", dir);
  snprintf(fin, sizeof fin, "%s/exit", dir);
  int n = snprintf(b, sizeof b, "%d %lld %llu\n", exit_code, ooms, (unsigned long long)(exit_ns ? exit_ns : now_ns()));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    write_all(fd, b, (size_t)n);
    fsync(fd);
    close(fd);
    rename(tmp, fin);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  if (fcntl(sync_fd, F_GETFD) < 0) sync_fd = -1;
  for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* Survive pierd: own session, no controlling terminal, signals only by intent. */
  setsid();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  char sock[4096];
  snprintf(sock, sizeof sock, "%s/sock", dir);
  listen_fd = listen_unix(sock);
  if (log_path) {
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) fail("cannot open the log file");
    struct stat st;
    if (fstat(log_fd, &st) == 0) log_size = st.st_size;
  }
  report("ready");

  if (wait_attach) {
    /* An exec's client attaches before anything runs, so no output is lost. */
    accept_client();
    struct client *c = &clients[0];
    while (c->fd >= 0 && (!c->op || (c->op == 'A' && c->flags < 0))) client_input(c);
  }

  child = run_runtime();
  for (int i = 0; i < n_early; i++)
    if (early[i].pid == child) { exited = 1; exit_code = status_code(early[i].status); exit_ns = now_ns(); }
  report("ok %d", (int)child);
  if (sync_fd >= 0) close(sync_fd);
  sync_fd = -1;
  reap();

  char b[BUF];
  int out_open = out_fd >= 0, err_open = err_fd >= 0;
  uint64_t exited_at = 0;
  for (;;) {
    struct pollfd p[3 + 3 + MAX_CLIENTS + 1];
    int np = 0;
    p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    p[np++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    p[np++] = (struct pollfd){.fd = out_open ? out_fd : -1, .events = POLLIN};
    p[np++] = (struct pollfd){.fd = err_open ? err_fd : -1, .events = POLLIN};
    int base = np;
    /* Clients are not read while the container's stdin is backed up. */
    for (int i = 0; i < MAX_CLIENTS; i++) p[np++] = (struct pollfd){.fd = clients[i].fd, .events = clients[i].in_closed || stdin_len == STDIN_MAX ? 0 : POLLIN};
    int in_slot = np;
    p[np++] = (struct pollfd){.fd = stdin_len && in_fd >= 0 ? in_fd : -1, .events = POLLOUT};

    if (exited && !exited_at) exited_at = now_ns();
    /* After the exit, output still in flight is read; once it stops (or both ends close), finish. */
    if (exited && !out_open && !err_open) break;
    int r = poll(p, (nfds_t)np, exited ? 200 : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 && exited) break;
    if (exited && now_ns() - exited_at > 5000000000ull) break;

    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) { /* SIGTERM/INT/HUP are ignored on purpose */ }
      reap();
    }
    if (p[1].revents & POLLIN) accept_client();
    for (int s = 1; s <= 2; s++) {
      struct pollfd *q = &p[1 + s];
      if (!(q->revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(q->fd, b, sizeof b);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        if (s == 1) out_open = 0; else err_open = 0;
        continue;
      }
      log_chunk(s, b, (size_t)n);
      broadcast(s, b, (size_t)n);
    }
    if (p[in_slot].revents & (POLLOUT | POLLERR | POLLHUP)) flush_stdin();
    for (int i = 0; i < MAX_CLIENTS; i++)
      if (clients[i].fd >= 0 && (p[base + i].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (clients[i].in_closed) drop(&clients[i]); /* gone both ways */
        else client_input(&clients[i]);
      }
  }

  write_exit();
  unsigned char code[4];
  put32(code, (uint32_t)exit_code);
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd < 0) continue;
    if (c->op == 'A' || c->op == 'W') send_frame(c, 3, code, 4);
    if (c->fd >= 0) drop(c);
  }
  /* Late waiters (a daemon reconnecting right now) find D/exit instead. */
  unlink(sock);
  return 0;
}
