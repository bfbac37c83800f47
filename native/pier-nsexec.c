/*
 * pier-nsexec: `runc exec --detach` without runc, for the common case.
 *
 *   pier-nsexec --runc RUNC [runc global options] exec --detach --process P
 *               --pid-file F [--console-socket S] ID
 *
 * A runc-compatible front for exactly one command: pier-monitor runs it where
 * it would run runc (runc.ts passes it as the monitor's runtime for execs,
 * with `--runc <path>` as the first runtime argument), so the monitor, its
 * socket protocol, attach and exit handling stay exactly as they are. What it
 * does not handle it gives to runc with the same arguments (execvp), before it
 * has changed anything: another command or option, a user namespace,
 * AppArmor/SELinux labels, seccomp notify or an unknown action, a rootless,
 * stopped or paused container, anything unreadable. A failure in the child
 * that is not one of the user's mistakes runc reports in its own words (no
 * such command, bad cwd, noexec) also goes back to runc, which redoes the
 * whole exec: unusual failures get runc's behaviour, not an imitation of it.
 *
 * Why a separate binary and not a mode of pier-monitor: the monitor is one
 * small process per container and per exec and stays small; this needs
 * libseccomp (linked statically) and a JSON reader; and keeping runc's command
 * line as the interface keeps runc the fallback for free. It costs nothing
 * extra: its execve replaces runc's.
 *
 * What it reproduces is runc 1.1's exec (libcontainer/nsenter/nsexec.c,
 * process_linux.go setnsProcess, setns_init_linux.go, init_linux.go), from
 * runc's state.json (init pid and start time, cgroup paths, namespaces, oom
 * score, keyring) and the bundle's config.json (seccomp; the container's
 * capabilities when the process has none), in runc's order:
 *   parent: check the init still runs and is not frozen; the seccomp program
 *           (libseccomp, plus runc's -ENOSYS stub for syscalls newer than the
 *           profile; cached per container, see build_seccomp); open the init's
 *           namespaces and the cgroup files; setns(pid) for the child; clone
 *           it into the v2 cgroup;
 *   child:  oom_score_adj, non-dumpable; join the v1 cgroups; join ipc, uts,
 *           net, mnt, cgroup; rlimits; setsid, uid/gid 0; session keyring
 *           "_ses.<id>"; the terminal (a pty from the container's /dev/ptmx,
 *           the slave as stdio and controlling terminal, the master to the
 *           parent, which gives it to the console socket once nothing can
 *           fail); no_new_privs; seccomp here without it (loading needs
 *           CAP_SYS_ADMIN); close-on-exec for fds >= 3; chdir; bounding set;
 *           keepcaps; stdio owned by the user, setgroups/setgid/setuid, HOME
 *           from /etc/passwd; capabilities (eff/prm/inh, ambient); PATH lookup
 *           as Go 1.19's exec.LookPath, eaccess; seccomp here with
 *           no_new_privs; execve.
 * The parent exits 0 with the pid file written once the child is about to
 * execve, as runc does once its init closed the init pipe; an error before is
 * runc's message in the --log file (JSON, level error) and status 255; a
 * failing execve itself is, as with runc, "exec <path>: <error>" on the
 * process's stderr and exit status 1.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static char **g_argv;
static const char *runc_path, *root_dir, *log_path, *process_path, *pid_file, *console_path, *cid;

/* ---- errors ------------------------------------------------------------- */

/* Go's errno texts are glibc's with a lower-case first letter. */
static const char *goerr(int e) {
  static char b[128];
  snprintf(b, sizeof b, "%s", strerror(e));
  b[0] = (char)tolower((unsigned char)b[0]);
  return b;
}

/* Go's strconv.Quote, for the names runc quotes with %q. */
static void goquote(char *out, size_t n, const char *s) {
  size_t j = 0;
  if (n < 3) return;
  out[j++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p && j + 6 < n; p++) {
    const char *esc = NULL;
    switch (*p) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\a': esc = "\\a"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\v': esc = "\\v"; break;
    }
    if (esc) j += (size_t)snprintf(out + j, n - j, "%s", esc);
    else if (*p < 0x20 || *p == 0x7f) j += (size_t)snprintf(out + j, n - j, "\\x%02x", *p);
    else out[j++] = (char)*p;
  }
  out[j++] = '"';
  out[j] = 0;
}

static void json_escape(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
}

/* One line of runc's JSON log (logrus: level, msg, time). */
static void log_line(const char *level, const char *msg) {
  if (!log_path) return;
  FILE *f = fopen(log_path, "ae");
  if (!f) return;
  char ts[64];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
  json_escape(f, msg);
  fprintf(f, "\",\"time\":\"%s\"}\n", ts);
  fclose(f);
}

/* runc's exit on an exec error: the message in the log and on stderr, status 255. */
static void die(const char *msg) __attribute__((noreturn));
static void die(const char *msg) {
  char b[8192];
  snprintf(b, sizeof b, "exec failed: unable to start container process: %s", msg);
  log_line("error", b);
  dprintf(2, "%s\n", b);
  exit(255);
}

/* Hands the whole command to runc; only while this process is as it started (after a
 * child failed, its pid namespace for children is restored first). */
static void fallback(const char *why) __attribute__((noreturn));
static void fallback(const char *why) {
  char b[1024];
  snprintf(b, sizeof b, "pier-nsexec: falling back to runc: %s", why);
  log_line("debug", b);
  if (!runc_path) {
    dprintf(2, "pier-nsexec: %s (and no --runc to fall back to)\n", why);
    exit(255);
  }
  int n = 0;
  for (char **a = g_argv; *a; a++) n++;
  char **argv = calloc((size_t)n + 1, sizeof *argv);
  int j = 0;
  argv[j++] = (char *)runc_path;
  for (int i = 1; i < n; i++) {
    if (!strcmp(g_argv[i], "--runc") && i + 1 < n) { i++; continue; }
    argv[j++] = g_argv[i];
  }
  argv[j] = NULL;
  execvp(runc_path, argv);
  dprintf(2, "pier-nsexec: exec %s: %s\n", runc_path, strerror(errno));
  exit(127);
}

/* ---- JSON --------------------------------------------------------------- */

/* A small JSON reader: the whole document as a tree; strings decoded (a NUL
 * inside marks the value), numbers kept as text and converted on use. */
typedef struct jv jv;
struct jv {
  char t; /* n b d s a o */
  int n;  /* string length, or number of children */
  int b, nul;
  char *s;
  jv *kid;
  char **key;
  const char *raw; /* the value's text in the document */
  size_t rawlen;
};

static const char *jp, *jend;

static void jws(void) {
  while (jp < jend && (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r')) jp++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned c) {
  if (c < 0x80) { o[0] = (char)c; return 1; }
  if (c < 0x800) { o[0] = (char)(0xc0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3f)); return 2; }
  if (c < 0x10000) { o[0] = (char)(0xe0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3f)); o[2] = (char)(0x80 | (c & 0x3f)); return 3; }
  o[0] = (char)(0xf0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3f)); o[2] = (char)(0x80 | ((c >> 6) & 0x3f)); o[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

static int jstring(jv *v) {
  jp++; /* the quote */
  const char *start = jp;
  while (jp < jend && *jp != '"') {
    if (*jp == '\\') jp++;
    jp++;
  }
  if (jp >= jend) return -1;
  size_t raw = (size_t)(jp - start);
  char *o = malloc(raw + 1), *w = o;
  for (const char *p = start; p < jp; p++) {
    if ((unsigned char)*p < 0x20) return -1;
    if (*p != '\\') { *w++ = *p; continue; }
    p++;
    switch (*p) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '/': *w++ = '/'; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u': {
      unsigned c, lo;
      if (jp - p < 5 || hex4(p + 1, &c) < 0) return -1;
      p += 4;
      if (c >= 0xd800 && c < 0xdc00 && jp - p >= 7 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
      } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c == 0) v->nul = 1;
      w += put_utf8(w, c);
      break;
    }
    default: return -1;
    }
  }
  *w = 0;
  v->t = 's';
  v->s = o;
  v->n = (int)(w - o);
  jp++;
  return 0;
}

static int jvalue_at(jv *v, int depth);

static int jvalue(jv *v, int depth) {
  jws();
  const char *start = jp;
  int r = jvalue_at(v, depth);
  v->raw = start;
  v->rawlen = (size_t)(jp - start);
  return r;
}

static int jvalue_at(jv *v, int depth) {
  if (depth > 64) return -1;
  if (jp >= jend) return -1;
  memset(v, 0, sizeof *v);
  char c = *jp;
  if (c == '"') return jstring(v);
  if (c == '{' || c == '[') {
    int obj = c == '{';
    v->t = obj ? 'o' : 'a';
    jp++;
    int cap = 0;
    jws();
    if (jp < jend && *jp == (obj ? '}' : ']')) { jp++; return 0; }
    for (;;) {
      if (v->n == cap) {
        cap = cap ? cap * 2 : 8;
        v->kid = realloc(v->kid, (size_t)cap * sizeof *v->kid);
        if (obj) v->key = realloc(v->key, (size_t)cap * sizeof *v->key);
      }
      if (obj) {
        jv k;
        jws();
        if (jp >= jend || *jp != '"' || jstring(&k) < 0) return -1;
        v->key[v->n] = k.s;
        jws();
        if (jp >= jend || *jp++ != ':') return -1;
      }
      if (jvalue(&v->kid[v->n], depth + 1) < 0) return -1;
      v->n++;
      jws();
      if (jp >= jend) return -1;
      if (*jp == ',') { jp++; continue; }
      if (*jp == (obj ? '}' : ']')) { jp++; return 0; }
      return -1;
    }
  }
  if (!strncmp(jp, "true", 4)) { v->t = 'b'; v->b = 1; jp += 4; return 0; }
  if (!strncmp(jp, "false", 5)) { v->t = 'b'; jp += 5; return 0; }
  if (!strncmp(jp, "null", 4)) { v->t = 'n'; jp += 4; return 0; }
  const char *s = jp;
  if (jp < jend && *jp == '-') jp++;
  if (jp >= jend || !isdigit((unsigned char)*jp)) return -1;
  while (jp < jend && (isdigit((unsigned char)*jp) || *jp == '.' || *jp == 'e' || *jp == 'E' || *jp == '+' || *jp == '-')) jp++;
  v->t = 'd';
  v->s = strndup(s, (size_t)(jp - s));
  return 0;
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 65536, n = 0;
  char *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { close(fd); free(b); return NULL; }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  b = realloc(b, n + 1);
  b[n] = 0;
  if (len) *len = n;
  return b;
}

static jv *load_json(const char *path) {
  size_t n;
  char *text = read_file(path, &n);
  if (!text) return NULL;
  jv *v = calloc(1, sizeof *v);
  jp = text;
  jend = text + n;
  if (jvalue(v, 0) < 0) return NULL;
  jws();
  return jp == jend ? v : NULL;
}

/* The value of key (the last one, as Go's decoder keeps), or NULL; null reads as absent. */
static jv *jget(jv *o, const char *key) {
  if (!o || o->t != 'o') return NULL;
  for (int i = o->n - 1; i >= 0; i--)
    if (!strcmp(o->key[i], key)) return o->kid[i].t == 'n' ? NULL : &o->kid[i];
  return NULL;
}

static int jis(jv *v, char t) { return v && v->t == t; }

/* A non-negative integer that fits 64 bits (what Go decodes into uint types). */
static int ju64(jv *v, uint64_t *out) {
  if (!jis(v, 'd') || !isdigit((unsigned char)v->s[0])) return 0;
  uint64_t x = 0;
  for (const char *p = v->s; *p; p++) {
    if (!isdigit((unsigned char)*p)) return 0;
    unsigned d = (unsigned)(*p - '0');
    if (x > (UINT64_MAX - d) / 10) return 0;
    x = x * 10 + d;
  }
  *out = x;
  return 1;
}

static int ji64(jv *v, int64_t *out) {
  if (!jis(v, 'd')) return 0;
  int neg = v->s[0] == '-';
  jv tmp = *v;
  tmp.s = v->s + neg;
  uint64_t x;
  if (!ju64(&tmp, &x) || x > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
  *out = neg ? (int64_t)(0 - x) : (int64_t)x;
  return 1;
}

/* A string without a NUL inside, "" for absent; NULL when it is something else. */
static const char *jstr_or(jv *v, const char *dflt) {
  if (!v) return dflt;
  if (v->t != 's' || v->nul) return NULL;
  return v->s;
}

/* ---- the spec ----------------------------------------------------------- */

#define MAX_NS 8
#define MAX_CG 32
#define MAX_RL 32
#define MAX_GROUPS 256

struct cfg {
  /* process.json */
  int terminal;
  unsigned cons_h, cons_w;
  uint32_t uid, gid;
  gid_t groups[MAX_GROUPS];
  int ngroups;
  char **args, **env;
  int nargs, nenv;
  const char *cwd;
  uint64_t caps[5]; /* bounding effective inheritable permitted ambient */
  struct { int res; struct rlimit rl; } rl[MAX_RL];
  int nrl;
  int nnp;
  /* state.json */
  pid_t init_pid;
  unsigned long long init_start;
  int oom_set;
  long long oom;
  int new_keyring;
  int ns_fd[MAX_NS], ns_flag[MAX_NS], nns;
  int pid_ns_fd;
  int cg_fd[MAX_CG], ncg;     /* v1: each hierarchy's tasks file */
  int cg2_dir, cg2_procs, in_cg2; /* v2: the cgroup, for clone3(CLONE_INTO_CGROUP), and its cgroup.procs */
  /* seccomp */
  struct sock_filter *bpf;
  unsigned short bpf_len;
  unsigned long scmp_flags;
  int last_cap;
};

static const char *CAP_NAMES[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define N_CAP_NAMES (int)(sizeof CAP_NAMES / sizeof *CAP_NAMES)

static const char *RLIMITS[] = {
  "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
  "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

/* Capability names → mask; names runc does not know, or past the kernel's last, are ignored as runc does. */
static int cap_mask(jv *list, int last_cap, uint64_t *out) {
  *out = 0;
  if (!list) return 0;
  if (list->t != 'a') return -1;
  for (int i = 0; i < list->n; i++) {
    const char *s = jstr_or(&list->kid[i], NULL);
    if (!s) return -1;
    for (int c = 0; c < N_CAP_NAMES && c <= last_cap; c++)
      if (!strcmp(s, CAP_NAMES[c])) *out |= 1ull << c;
  }
  return 0;
}

static int caps_of(jv *caps, int last_cap, uint64_t out[5]) {
  static const char *kinds[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
  if (caps->t != 'o') return -1;
  for (int k = 0; k < 5; k++)
    if (cap_mask(jget(caps, kinds[k]), last_cap, &out[k]) < 0) return -1;
  return 0;
}

/* /proc/<pid>/stat field 22, the start time runc records as init_process_start. */
static unsigned long long start_time(pid_t pid) {
  char p[64], b[1024];
  snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n <= 0) return 0;
  b[n] = 0;
  char *s = strrchr(b, ')');
  if (!s) return 0;
  int field = 2;
  for (; *s && field < 22; s++)
    if (*s == ' ') field++;
  return strtoull(s, NULL, 10);
}

/* ---- seccomp ------------------------------------------------------------ */

/* OCI architecture → libseccomp token and the AUDIT_ARCH the kernel reports (x32 is x86_64's). */
static const struct { const char *name; uint32_t token, audit; } ARCHES[] = {
  {"SCMP_ARCH_X86", SCMP_ARCH_X86, AUDIT_ARCH_I386},
  {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64},
  {"SCMP_ARCH_X32", SCMP_ARCH_X32, AUDIT_ARCH_X86_64},
  {"SCMP_ARCH_ARM", SCMP_ARCH_ARM, AUDIT_ARCH_ARM},
  {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64},
  {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, AUDIT_ARCH_MIPS},
  {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, AUDIT_ARCH_MIPS64},
  {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, AUDIT_ARCH_MIPS64N32},
  {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, AUDIT_ARCH_MIPSEL},
  {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, AUDIT_ARCH_MIPSEL64},
  {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, AUDIT_ARCH_MIPSEL64N32},
  {"SCMP_ARCH_PPC", SCMP_ARCH_PPC, AUDIT_ARCH_PPC},
  {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, AUDIT_ARCH_PPC64},
  {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, AUDIT_ARCH_PPC64LE},
  {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64, AUDIT_ARCH_RISCV64},
  {"SCMP_ARCH_S390", SCMP_ARCH_S390, AUDIT_ARCH_S390},
  {"SCMP_ARCH_S390X", SCMP_ARCH_S390X, AUDIT_ARCH_S390X},
};
#define N_ARCHES (int)(sizeof ARCHES / sizeof *ARCHES)

/* runc's action mapping; errno and trace default to EPERM. 0 = not handled here. */
static int scmp_action(const char *a, jv *errno_ret, uint32_t *out, int *allowish) {
  uint64_t e = EPERM;
  if (errno_ret && !ju64(errno_ret, &e)) return 0;
  if (allowish) *allowish = 0;
  if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD")) *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS")) *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(a, "SCMP_ACT_TRAP")) *out = SCMP_ACT_TRAP;
  else if (!strcmp(a, "SCMP_ACT_ERRNO")) *out = SCMP_ACT_ERRNO((uint16_t)e);
  else if (!strcmp(a, "SCMP_ACT_TRACE")) { *out = SCMP_ACT_TRACE((uint16_t)e); if (allowish) *allowish = 1; }
  else if (!strcmp(a, "SCMP_ACT_ALLOW")) { *out = SCMP_ACT_ALLOW; if (allowish) *allowish = 1; }
  else if (!strcmp(a, "SCMP_ACT_LOG")) { *out = SCMP_ACT_LOG; if (allowish) *allowish = 1; }
  else return 0; /* SCMP_ACT_NOTIFY needs a listener: runc's */
  return 1;
}

static int scmp_op(const char *o, enum scmp_compare *out) {
  static const struct { const char *n; enum scmp_compare c; } ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(o, ops[i].n)) { *out = ops[i].c; return 1; }
  return 0;
}

/* A growing BPF program that runc's stub builds by prepending. */
struct prog { struct sock_filter *i; int n, cap; };

static void prepend(struct prog *p, const struct sock_filter *ins, int k) {
  if (p->n + k > p->cap) {
    p->cap = (p->n + k) * 2 + 16;
    p->i = realloc(p->i, (size_t)p->cap * sizeof *p->i);
  }
  memmove(p->i + k, p->i, (size_t)p->n * sizeof *p->i);
  memcpy(p->i, ins, (size_t)k * sizeof *ins);
  p->n += k;
}

#define LD(off) ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define JA(k) ((struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, (k)))
#define RET(k) ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (k)))
#define JEQ(v, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (t), (f)))
#define JGT(v, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (v), (t), (f)))
#define JSET(v, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (v), (t), (f)))
/* golang.org/x/net/bpf spells "not equal", "less or equal", "bits not set" as the opposite jump with the targets swapped. */
#define JNE(v, t, f) JEQ(v, f, t)
#define JLE(v, t, f) JGT(v, f, t)
#define JNSET(v, t, f) JSET(v, f, t)

struct lastsys { uint32_t audit; int n; uint32_t token[2]; int32_t max[2]; };

/*
 * runc's -ENOSYS stub (libcontainer/seccomp/patchbpf): for each architecture
 * of the profile, a syscall number above the largest one the profile names
 * returns ENOSYS instead of the default action, so programs probing for new
 * syscalls fall back as they would on an older kernel.
 */
static int enosys_stub(struct lastsys *ls, int nls, struct prog *p) {
  const uint32_t enosys = SCMP_ACT_ERRNO(ENOSYS);
  struct sock_filter tail0[2] = {JA(1), RET(enosys)};
  prepend(p, tail0, 2);
  int jumptable[16] = {0};
  for (int a = 0; a < nls; a++) {
    struct lastsys *l = &ls[a];
    uint32_t base_enosys = (uint32_t)p->n - 1, base_filter = base_enosys + 1;
    struct sock_filter sec[16];
    int k = 0;
    sec[k++] = LD(0);
    if (l->n == 0) continue;
    if (l->n == 1) {
      uint32_t tok = l->token[0], sysno = (uint32_t)l->max[0];
      if (tok == SCMP_ARCH_S390 || tok == SCMP_ARCH_S390X) {
        sec[k++] = JNE(0, 1, 0);
        sec[k++] = RET(enosys);
      }
      struct sock_filter st[4];
      int m = 0;
      if (base_enosys + 1 <= 255) {
        st[m++] = JGT(sysno, base_enosys + 1, 0);
        st[m++] = JA(base_filter);
      } else {
        st[m++] = JLE(sysno, 1, 0);
        st[m++] = RET(enosys);
        st[m++] = JA(base_filter);
      }
      if (l->audit == AUDIT_ARCH_X86_64) {
        if (tok == SCMP_ARCH_X86_64) sec[k++] = JSET(1u << 30, (uint8_t)(m - 1), 0);
        else if (tok == SCMP_ARCH_X32) sec[k++] = JNSET(1u << 30, (uint8_t)(m - 1), 0);
        else return -1;
      }
      for (int i = 0; i < m; i++) sec[k++] = st[i];
    } else {
      if (l->audit != AUDIT_ARCH_X86_64) return -1;
      uint32_t x86 = 0, x32 = 0;
      int have86 = 0, have32 = 0;
      for (int i = 0; i < 2; i++) {
        if (l->token[i] == SCMP_ARCH_X86_64) { x86 = (uint32_t)l->max[i]; have86 = 1; }
        if (l->token[i] == SCMP_ARCH_X32) { x32 = (uint32_t)l->max[i]; have32 = 1; }
      }
      if (!have86 || !have32) return -1;
      if (base_enosys + 2 <= 255) {
        sec[k++] = JSET(1u << 30, 1, 0);
        sec[k++] = JGT(x86, base_enosys + 2, 1);
        sec[k++] = JGT(x32, base_enosys + 1, 0);
        sec[k++] = JA(base_filter);
      } else {
        sec[k++] = JSET(1u << 30, 1, 0);
        sec[k++] = JGT(x86, 1, 2);
        sec[k++] = JLE(x32, 1, 0);
        sec[k++] = RET(enosys);
        sec[k++] = JA(base_filter);
      }
    }
    prepend(p, sec, k);
    jumptable[a] = p->n;
  }
  struct sock_filter ja = JA((uint32_t)p->n);
  prepend(p, &ja, 1);
  for (int a = 0; a < nls; a++) {
    uint32_t jump = (uint32_t)p->n - (uint32_t)jumptable[a];
    if (jump <= 255) {
      struct sock_filter j = JEQ(ls[a].audit, (uint8_t)jump, 0);
      prepend(p, &j, 1);
    } else {
      struct sock_filter j[2] = {JNE(ls[a].audit, 1, 0), JA(jump)};
      prepend(p, j, 2);
    }
  }
  struct sock_filter ld = LD(4);
  prepend(p, &ld, 1);
  return 0;
}

/*
 * linux.seccomp → the BPF runc would load (its specconv, InitSeccomp and
 * PatchAndLoad): one rule per syscall name in order, rules with the default
 * action dropped, unknown names skipped, conditions on the same argument
 * split into separate rules. Returns NULL (after fallback) when runc should decide.
 */
/*
 * Compiling Docker's default profile takes libseccomp ~10 ms, which runc
 * spends on every exec. The program is kept in runc's state directory for the
 * container (tmpfs, removed by runc delete), with the profile's exact text and
 * libseccomp's version; any difference is a miss.
 */
#define CACHE_MAGIC "PIERSCMP"
struct cache_head { char magic[8]; uint32_t format, libseccomp, rawlen, ninsn; };

static uint32_t libseccomp_version(void) {
  const struct scmp_version *v = seccomp_version();
  return v ? (v->major << 16) | (v->minor << 8) | v->micro : 0;
}

static int cache_load(const char *path, jv *sc, struct cfg *c) {
  size_t n;
  char *b = read_file(path, &n);
  struct cache_head h;
  if (!b || n < sizeof h) { free(b); return 0; }
  memcpy(&h, b, sizeof h);
  size_t want = sizeof h + h.rawlen + (size_t)h.ninsn * sizeof(struct sock_filter);
  if (memcmp(h.magic, CACHE_MAGIC, 8) || h.format != 1 || h.libseccomp != libseccomp_version() || h.rawlen != sc->rawlen ||
      n != want || h.ninsn == 0 || h.ninsn > BPF_MAXINSNS || memcmp(b + sizeof h, sc->raw, sc->rawlen)) {
    free(b);
    return 0;
  }
  c->bpf = malloc((size_t)h.ninsn * sizeof *c->bpf);
  memcpy(c->bpf, b + sizeof h + h.rawlen, (size_t)h.ninsn * sizeof *c->bpf);
  c->bpf_len = (unsigned short)h.ninsn;
  free(b);
  return 1;
}

static void cache_save(const char *path, jv *sc, struct cfg *c) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  struct cache_head h = {.format = 1, .libseccomp = libseccomp_version(), .rawlen = (uint32_t)sc->rawlen, .ninsn = c->bpf_len};
  memcpy(h.magic, CACHE_MAGIC, 8);
  size_t bl = (size_t)c->bpf_len * sizeof *c->bpf;
  int ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h && write(fd, sc->raw, sc->rawlen) == (ssize_t)sc->rawlen && write(fd, c->bpf, bl) == (ssize_t)bl;
  if (close(fd) < 0) ok = 0;
  if (!ok || rename(tmp, path) < 0) unlink(tmp);
}

static void build_seccomp(jv *sc, struct cfg *c, const char *cache) {
  const char *def = jstr_or(jget(sc, "defaultAction"), "");
  jv *calls = jget(sc, "syscalls");
  if (!def) fallback("seccomp defaultAction is not a string");
  if (calls && calls->t != 'a') fallback("seccomp syscalls is not a list");
  if (!*def && (!calls || calls->n == 0)) return; /* runc: seccomp disabled */
  if (jget(sc, "listenerPath") || jget(sc, "listenerMetadata")) fallback("seccomp listener");
  uint32_t defact;
  int def_allowish;
  if (!scmp_action(def, jget(sc, "defaultErrnoRet"), &defact, &def_allowish)) fallback("seccomp default action");
  /* Flags for seccomp(2), as libseccomp-golang allows them by API level. */
  jv *flags = jget(sc, "flags");
  if (flags && flags->t != 'a') fallback("seccomp flags");
  int api = (int)seccomp_api_get();
  for (int i = 0; flags && i < flags->n; i++) {
    const char *f = jstr_or(&flags->kid[i], NULL);
    if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC")) continue; /* runc: nothing to do */
    else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_LOG") && api >= 3) c->scmp_flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") && api >= 4) c->scmp_flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else fallback("seccomp flag");
  }
  if (cache && cache_load(cache, sc, c)) return;

  scmp_filter_ctx ctx = seccomp_init(defact);
  if (!ctx) fallback("seccomp_init");
  jv *arches = jget(sc, "architectures");
  if (arches && arches->t != 'a') fallback("seccomp architectures");
  int arch_idx[N_ARCHES * 2], narch = 0;
  for (int i = 0; arches && i < arches->n; i++) {
    const char *a = jstr_or(&arches->kid[i], NULL);
    int found = -1;
    for (int k = 0; a && k < N_ARCHES; k++)
      if (!strcmp(a, ARCHES[k].name)) found = k;
    if (found < 0 || narch >= N_ARCHES * 2) fallback("seccomp architecture");
    arch_idx[narch++] = found;
    int r = seccomp_arch_add(ctx, ARCHES[found].token);
    if (r != 0 && r != -EEXIST) fallback("seccomp_arch_add");
  }
  if ((c->scmp_flags & SECCOMP_FILTER_FLAG_LOG) && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1) != 0) fallback("seccomp log flag");
  if ((c->scmp_flags & SECCOMP_FILTER_FLAG_SPEC_ALLOW) && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1) != 0) fallback("seccomp spec_allow flag");
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) != 0) fallback("seccomp nnp attribute");

  /* The largest syscall number named, per architecture (for the stub). */
  struct lastsys ls[N_ARCHES];
  int nls = 0;
  int32_t maxnr[N_ARCHES * 2] = {0};

  for (int i = 0; calls && i < calls->n; i++) {
    jv *call = &calls->kid[i];
    const char *action = jstr_or(jget(call, "action"), NULL);
    jv *names = jget(call, "names"), *args = jget(call, "args");
    uint32_t act;
    if (call->t != 'o' || !action || !scmp_action(action, jget(call, "errnoRet"), &act, NULL)) fallback("seccomp rule action");
    if (!names || names->t != 'a' || (args && args->t != 'a')) fallback("seccomp rule");
    struct scmp_arg_cmp conds[6];
    int ncond = args ? args->n : 0, per_index[6] = {0}, multi = 0;
    if (ncond > 6) fallback("seccomp rule with more than 6 conditions");
    for (int k = 0; k < ncond; k++) {
      jv *a = &args->kid[k];
      uint64_t index, value = 0, two = 0;
      enum scmp_compare op;
      const char *ops = jstr_or(jget(a, "op"), NULL);
      if (!ju64(jget(a, "index"), &index) || index > 5 || !ops || !scmp_op(ops, &op)) fallback("seccomp condition");
      if (jget(a, "value") && !ju64(jget(a, "value"), &value)) fallback("seccomp condition value");
      if (jget(a, "valueTwo") && !ju64(jget(a, "valueTwo"), &two)) fallback("seccomp condition value");
      conds[k] = (struct scmp_arg_cmp){.arg = (unsigned)index, .op = op, .datum_a = value, .datum_b = two};
      if (++per_index[index] > 1) multi = 1;
    }
    for (int n = 0; n < names->n; n++) {
      const char *name = jstr_or(&names->kid[n], NULL);
      if (!name || !*name) fallback("seccomp syscall name");
      for (int a = 0; a < narch; a++) {
        int nr = seccomp_syscall_resolve_name_arch(ARCHES[arch_idx[a]].token, name);
        if (nr != __NR_SCMP_ERROR && nr > maxnr[a]) maxnr[a] = nr;
      }
      if (act == defact) continue; /* redundant, as runc skips it */
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue; /* unknown to libseccomp: ignored, as runc does */
      int r = 0;
      if (ncond == 0) r = seccomp_rule_add_array(ctx, act, nr, 0, NULL);
      else if (!multi) r = seccomp_rule_add_array(ctx, act, nr, (unsigned)ncond, conds);
      else
        for (int k = 0; k < ncond && r == 0; k++) r = seccomp_rule_add_array(ctx, act, nr, 1, &conds[k]);
      if (r != 0) fallback("seccomp_rule_add");
    }
  }

  /* Export libseccomp's program, then put runc's stub in front. */
  int mfd = memfd_create("pier-seccomp", MFD_CLOEXEC);
  if (mfd < 0 || seccomp_export_bpf(ctx, mfd) != 0) fallback("seccomp_export_bpf");
  seccomp_release(ctx);
  struct stat st;
  if (fstat(mfd, &st) < 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter)) fallback("seccomp export size");
  struct prog p = {0};
  if (!def_allowish) {
    for (int a = 0; a < narch; a++) {
      uint32_t audit = ARCHES[arch_idx[a]].audit, tok = ARCHES[arch_idx[a]].token;
      int at = -1;
      for (int k = 0; k < nls; k++)
        if (ls[k].audit == audit) at = k;
      if (at < 0) {
        at = nls++;
        ls[at] = (struct lastsys){.audit = audit};
      }
      int dup = 0;
      for (int k = 0; k < ls[at].n; k++)
        if (ls[at].token[k] == tok) dup = 1;
      if (dup || maxnr[a] <= 0) continue;
      if (ls[at].n == 2) fallback("seccomp architecture overlap");
      ls[at].token[ls[at].n] = tok;
      ls[at].max[ls[at].n++] = maxnr[a];
    }
    if (enosys_stub(ls, nls, &p) < 0) fallback("seccomp stub");
  }
  int ninsn = (int)(st.st_size / (off_t)sizeof(struct sock_filter));
  if (p.n + ninsn > BPF_MAXINSNS) fallback("seccomp program too long");
  c->bpf = malloc((size_t)(p.n + ninsn) * sizeof *c->bpf);
  if (p.n) memcpy(c->bpf, p.i, (size_t)p.n * sizeof *c->bpf);
  if (pread(mfd, c->bpf + p.n, (size_t)st.st_size, 0) != st.st_size) fallback("seccomp export read");
  close(mfd);
  c->bpf_len = (unsigned short)(p.n + ninsn);
  if (cache) cache_save(cache, sc, c);
}

/* ---- reading what runc would read ----------------------------------------- */

static const struct { const char *type, *file; int flag; } NS[] = {
  /* runc's configs.NamespaceTypes() order: user first, mnt late */
  {"NEWUSER", "user", CLONE_NEWUSER}, {"NEWIPC", "ipc", CLONE_NEWIPC}, {"NEWUTS", "uts", CLONE_NEWUTS},
  {"NEWNET", "net", CLONE_NEWNET}, {"NEWPID", "pid", CLONE_NEWPID}, {"NEWNS", "mnt", CLONE_NEWNS},
  {"NEWCGROUP", "cgroup", CLONE_NEWCGROUP},
};

static int valid_id(const char *s) {
  if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("_+-.", *s)) return 0;
  return 1;
}

static int env_ok(const char *e) {
  const char *eq = strchr(e, '=');
  return eq && eq != e;
}

static void read_process(jv *p, jv *spec, struct cfg *c) {
  if (!p || p->t != 'o') fallback("process.json is not an object");
  jv *t = jget(p, "terminal");
  if (t && t->t != 'b') fallback("terminal");
  c->terminal = t && t->b;
  jv *cs = jget(p, "consoleSize");
  if (cs) {
    uint64_t h = 0, w = 0;
    if ((jget(cs, "height") && !ju64(jget(cs, "height"), &h)) || (jget(cs, "width") && !ju64(jget(cs, "width"), &w)) || h > 0xffff || w > 0xffff)
      fallback("consoleSize");
    c->cons_h = (unsigned)h;
    c->cons_w = (unsigned)w;
  }
  jv *u = jget(p, "user");
  uint64_t uid = 0, gid = 0;
  if (u && ((jget(u, "uid") && !ju64(jget(u, "uid"), &uid)) || (jget(u, "gid") && !ju64(jget(u, "gid"), &gid)))) fallback("user");
  if (uid > INT32_MAX || gid > INT32_MAX) fallback("uid or gid out of runc's range");
  c->uid = (uint32_t)uid;
  c->gid = (uint32_t)gid;
  jv *ag = jget(u, "additionalGids");
  if (ag && ag->t != 'a') fallback("additionalGids");
  for (int i = 0; ag && i < ag->n; i++) {
    uint64_t g;
    if (!ju64(&ag->kid[i], &g) || g > INT32_MAX) fallback("additionalGids");
    int dup = 0;
    for (int k = 0; k < c->ngroups; k++)
      if (c->groups[k] == (gid_t)g) dup = 1;
    if (dup) continue;
    if (c->ngroups >= MAX_GROUPS) fallback("too many groups");
    c->groups[c->ngroups++] = (gid_t)g;
  }
  jv *args = jget(p, "args"), *env = jget(p, "env");
  if (!args || args->t != 'a' || args->n == 0) fallback("args");
  if (env && env->t != 'a') fallback("env");
  c->nargs = args->n;
  c->args = calloc((size_t)args->n + 1, sizeof *c->args);
  for (int i = 0; i < args->n; i++)
    if (!(c->args[i] = (char *)jstr_or(&args->kid[i], NULL))) fallback("args");
  c->nenv = env ? env->n : 0;
  c->env = calloc((size_t)c->nenv + 2, sizeof *c->env);
  for (int i = 0; i < c->nenv; i++)
    if (!(c->env[i] = (char *)jstr_or(&env->kid[i], NULL)) || !env_ok(c->env[i])) fallback("env");
  c->cwd = jstr_or(jget(p, "cwd"), "");
  if (!c->cwd || c->cwd[0] != '/') fallback("cwd");
  jv *nnp = jget(p, "noNewPrivileges");
  if (nnp && nnp->t != 'b') fallback("noNewPrivileges");
  c->nnp = nnp && nnp->b;
  const char *aa = jstr_or(jget(p, "apparmorProfile"), ""), *se = jstr_or(jget(p, "selinuxLabel"), "");
  if (!aa || *aa || !se || *se) fallback("AppArmor or SELinux label");
  jv *rl = jget(p, "rlimits");
  if (rl && rl->t != 'a') fallback("rlimits");
  for (int i = 0; rl && i < rl->n; i++) {
    const char *type = jstr_or(jget(&rl->kid[i], "type"), NULL);
    uint64_t hard = 0, soft = 0;
    int res = -1;
    for (int k = 0; type && k < (int)(sizeof RLIMITS / sizeof *RLIMITS); k++)
      if (!strcmp(type, RLIMITS[k])) res = k;
    if (res < 0 || c->nrl >= MAX_RL) fallback("rlimit type");
    if ((jget(&rl->kid[i], "hard") && !ju64(jget(&rl->kid[i], "hard"), &hard)) || (jget(&rl->kid[i], "soft") && !ju64(jget(&rl->kid[i], "soft"), &soft)))
      fallback("rlimit value");
    c->rl[c->nrl].res = res;
    c->rl[c->nrl].rl = (struct rlimit){.rlim_cur = soft, .rlim_max = hard};
    c->nrl++;
  }
  /* The process's capabilities, else the container's (runc's finalizeNamespace). */
  jv *caps = jget(p, "capabilities");
  if (!caps) caps = jget(jget(spec, "process"), "capabilities");
  if (caps && caps_of(caps, c->last_cap, c->caps) < 0) fallback("capabilities");
}

static void read_state(const char *id, struct cfg *c, jv **spec_out) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s/state.json", root_dir, id);
  jv *st = load_json(path);
  if (!st || st->t != 'o') fallback("no readable state.json");
  jv *conf = jget(st, "config");
  int64_t pid;
  uint64_t start;
  if (!conf || !ji64(jget(st, "init_process_pid"), &pid) || pid <= 0 || !ju64(jget(st, "init_process_start"), &start))
    fallback("state.json without init");
  c->init_pid = (pid_t)pid;
  c->init_start = start;
  if (start_time(c->init_pid) != start) fallback("the container's init is not running");
  jv *b;
  if ((b = jget(st, "rootless")) && (b->t != 'b' || b->b)) fallback("rootless");
  if ((b = jget(conf, "rootless_euid")) && (b->t != 'b' || b->b)) fallback("rootless");
  if ((b = jget(conf, "rootless_cgroups")) && (b->t != 'b' || b->b)) fallback("rootless");
  if ((b = jget(conf, "uid_mappings")) && (b->t != 'a' || b->n)) fallback("uid mappings");
  if ((b = jget(conf, "gid_mappings")) && (b->t != 'a' || b->n)) fallback("gid mappings");
  if (jget(conf, "umask")) fallback("umask");
  const char *s;
  if (!(s = jstr_or(jget(st, "intel_rdt_path"), "")) || *s) fallback("intel rdt");
  if (!(s = jstr_or(jget(conf, "app_armor_profile"), "")) || *s) fallback("AppArmor profile");
  if (!(s = jstr_or(jget(conf, "process_label"), "")) || *s) fallback("SELinux label");
  if ((b = jget(conf, "no_new_keyring")) && b->t != 'b') fallback("no_new_keyring");
  c->new_keyring = !(b && b->b);
  if ((b = jget(conf, "oom_score_adj"))) {
    int64_t v;
    if (!ji64(b, &v)) fallback("oom_score_adj");
    c->oom_set = 1;
    c->oom = v;
  }

  /* The bundle's config.json: seccomp and the container's capabilities. */
  const char *bundle = NULL;
  jv *labels = jget(conf, "labels");
  for (int i = 0; labels && labels->t == 'a' && i < labels->n; i++) {
    const char *l = jstr_or(&labels->kid[i], NULL);
    if (l && !strncmp(l, "bundle=", 7)) bundle = l + 7;
  }
  if (!bundle) fallback("no bundle label");
  snprintf(path, sizeof path, "%s/config.json", bundle);
  jv *spec = load_json(path);
  if (!spec || spec->t != 'o') fallback("no readable config.json");
  *spec_out = spec;
  jv *sc = jget(jget(spec, "linux"), "seccomp");
  snprintf(path, sizeof path, "%s/%s/pier-seccomp.bpf", root_dir, id);
  if (sc) build_seccomp(sc, c, path);
  if (!c->bpf != !jget(conf, "seccomp")) fallback("seccomp in config.json and state.json differ");

  /* Namespaces to join: the container's, at the init's /proc/<pid>/ns. */
  jv *nss = jget(conf, "namespaces");
  if (!nss || nss->t != 'a') fallback("namespaces");
  int want[7] = {0};
  for (int i = 0; i < nss->n; i++) {
    const char *t = jstr_or(jget(&nss->kid[i], "type"), NULL);
    int k = -1;
    for (int j = 0; t && j < 7; j++)
      if (!strcmp(t, NS[j].type)) k = j;
    if (k < 0) fallback("namespace type");
    if (NS[k].flag == CLONE_NEWUSER) fallback("user namespace");
    want[k] = 1;
  }
  c->pid_ns_fd = -1;
  for (int k = 0; k < 7; k++) {
    if (!want[k]) continue;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)c->init_pid, NS[k].file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fallback("cannot open a namespace");
    if (NS[k].flag == CLONE_NEWPID) c->pid_ns_fd = fd;
    else {
      c->ns_fd[c->nns] = fd;
      c->ns_flag[c->nns++] = NS[k].flag;
    }
  }

  /*
   * The cgroups: every hierarchy runc recorded; a frozen container is runc's
   * to refuse. runc writes the pid to each cgroup.procs, which takes the
   * kernel's global threadgroup lock for writing: an RCU grace period, ~10 ms.
   * Here the child is born in the v2 cgroup (clone3 with CLONE_INTO_CGROUP)
   * and, being single-threaded, moves itself in each v1 hierarchy through the
   * tasks file, where writing "0" (the calling thread) needs no such lock.
   */
  c->cg2_dir = c->cg2_procs = -1;
  jv *cg = jget(st, "cgroup_paths");
  if (!cg || cg->t != 'o') fallback("cgroup_paths");
  for (int i = 0; i < cg->n; i++) {
    const char *dir = jstr_or(&cg->kid[i], NULL);
    struct stat sb;
    if (!dir) fallback("cgroup path");
    if (!*dir || stat(dir, &sb) < 0) continue; /* runc joins those that exist */
    char p[PATH_MAX];
    if (!strcmp(cg->key[i], "freezer")) {
      snprintf(p, sizeof p, "%s/freezer.state", dir);
      char *fs = read_file(p, NULL);
      if (!fs || strncmp(fs, "THAWED", 6)) fallback("the container is paused");
    } else if (!*cg->key[i]) {
      snprintf(p, sizeof p, "%s/cgroup.freeze", dir);
      char *fs = read_file(p, NULL);
      if (fs && fs[0] == '1') fallback("the container is paused");
    }
    if (!*cg->key[i]) {
      snprintf(p, sizeof p, "%s/cgroup.procs", dir);
      if (c->cg2_dir >= 0 || (c->cg2_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || (c->cg2_procs = open(p, O_WRONLY | O_CLOEXEC)) < 0)
        fallback("cannot open the v2 cgroup");
      continue;
    }
    snprintf(p, sizeof p, "%s/tasks", dir);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || c->ncg >= MAX_CG) fallback("cannot open a cgroup's tasks");
    c->cg_fd[c->ncg++] = fd;
  }
  /* Everything opened belongs to the init we checked, not to a pid reused since. */
  if (start_time(c->init_pid) != start) fallback("the container's init is not running");
}

/* ---- the child ---------------------------------------------------------- */

static int sync_fd = -1;

/*
 * The child tells the parent, on a SOCK_SEQPACKET pair: 'T' + the pty master,
 * 'K' (about to execve), 'E' + an error in runc's words (the user's: no such
 * command, cwd, ...), 'F' + anything else, which the parent answers by
 * running runc itself, so unusual failures get runc's own behaviour.
 */
static void child_msg(char kind, const char *fmt, va_list ap) {
  char b[4096];
  b[0] = kind;
  vsnprintf(b + 1, sizeof b - 1, fmt, ap);
  if (send(sync_fd, b, strlen(b), MSG_NOSIGNAL) < 0) { /* the parent is gone */ }
  _exit(1);
}

static void cerr(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void cerr(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  child_msg('E', fmt, ap);
  va_end(ap);
  _exit(1);
}

static void cfail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void cfail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  child_msg('F', fmt, ap);
  va_end(ap);
  _exit(1);
}

static int send_fd(int sock, const char *name, int fd) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int load_seccomp(struct cfg *c) {
  struct sock_fprog prog = {.len = c->bpf_len, .filter = c->bpf};
  if (c->scmp_flags == 0) return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, c->scmp_flags, &prog);
}

/* Go's filepath.Clean. */
static void clean_path(char *out, size_t n, const char *p) {
  char buf[PATH_MAX];
  int rooted = p[0] == '/';
  size_t len = 0;
  const char *s = p;
  buf[0] = 0;
  while (*s) {
    while (*s == '/') s++;
    const char *e = s;
    while (*e && *e != '/') e++;
    size_t l = (size_t)(e - s);
    if (l == 0) break;
    if (l == 1 && s[0] == '.') {
    } else if (l == 2 && s[0] == '.' && s[1] == '.') {
      char *last = len ? strrchr(buf, '/') : NULL;
      const char *top = last ? last + 1 : buf;
      if (len && strcmp(top, "..")) {
        len = last ? (size_t)(last - buf) : 0;
        buf[len] = 0;
      } else if (!rooted) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s..", len ? "/" : "");
      }
    } else {
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s", len ? "/" : "", (int)l, s);
    }
    if (len >= sizeof buf) len = sizeof buf - 1;
    s = e;
  }
  snprintf(out, n, "%s%s", rooted ? "/" : "", buf);
  if (!out[0]) snprintf(out, n, ".");
}

/* Go 1.19's exec.findExecutable: 0, or an errno with the stat error's text in detail. */
static int find_executable(const char *file, char *detail, size_t n) {
  struct stat st;
  if (stat(file, &st) < 0) {
    int e = errno;
    snprintf(detail, n, "stat %s: %s", file, goerr(e));
    return e;
  }
  if (!S_ISDIR(st.st_mode) && (st.st_mode & 0111)) return 0;
  snprintf(detail, n, "permission denied");
  return EACCES;
}

/* Go's internal/godebug.Get on the process's own GODEBUG, which runc's LookPath consults. */
static int execerrdot_off(char **env) {
  const char *s = NULL;
  for (char **e = env; *e; e++)
    if (!strncmp(*e, "GODEBUG=", 8)) s = *e + 8;
  if (!s || !*s) return 0;
  long end = (long)strlen(s), eq = -1;
  for (long i = end - 1; i >= -1; i--) {
    if (i == -1 || s[i] == ',') {
      if (eq >= 0 && eq - (i + 1) == 10 && !strncmp(s + i + 1, "execerrdot", 10))
        return end - (eq + 1) == 1 && s[eq + 1] == '0';
      eq = -1;
      end = i;
    } else if (s[i] == '=') eq = i;
  }
  return 0;
}

/* Go 1.19's exec.LookPath with the process's PATH; errors in its words. */
static void look_path(const char *file, char **env, char *out, size_t n) {
  char q[PATH_MAX * 4 + 8], detail[PATH_MAX + 64];
  goquote(q, sizeof q, file);
  if (strchr(file, '/')) {
    if (find_executable(file, detail, sizeof detail) == 0) {
      snprintf(out, n, "%s", file);
      return;
    }
    cerr("exec: %s: %s", q, detail);
  }
  const char *path = "";
  for (char **e = env; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
  const char *s = path;
  while (*path) {
    const char *e = strchr(s, ':');
    size_t l = e ? (size_t)(e - s) : strlen(s);
    char dir[PATH_MAX], joined[PATH_MAX * 2], cand[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)l, s);
    if (!dir[0]) snprintf(dir, sizeof dir, ".");
    if (*file) snprintf(joined, sizeof joined, "%s/%s", dir, file);
    else snprintf(joined, sizeof joined, "%s", dir);
    clean_path(cand, sizeof cand, joined);
    if (find_executable(cand, detail, sizeof detail) == 0) {
      if (cand[0] != '/' && !execerrdot_off(env)) cerr("exec: %s: cannot run executable found relative to current directory", q);
      snprintf(out, n, "%s", cand);
      return;
    }
    if (!e) break;
    s = e + 1;
  }
  cerr("exec: %s: executable file not found in $PATH", q);
}

/* x/sys/unix Faccessat(AT_FDCWD, path, X_OK, AT_EACCESS), which runc 1.1 built with Go 1.19 calls "eaccess". */
static int go_eaccess(const char *path) {
  if (syscall(SYS_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS) == 0) return 0;
  if (errno != ENOSYS && errno != EPERM) return errno;
  struct stat st;
  if (stat(path, &st) < 0) return errno;
  uid_t uid = geteuid();
  if (uid == 0) return (st.st_mode & 0111) ? 0 : EACCES;
  unsigned mode;
  if (uid == st.st_uid) mode = (st.st_mode >> 6) & 7;
  else {
    int member = getegid() == st.st_gid;
    gid_t gs[MAX_GROUPS];
    int ng = getgroups(MAX_GROUPS, gs);
    for (int i = 0; i < ng; i++)
      if (gs[i] == st.st_gid) member = 1;
    mode = member ? (st.st_mode >> 3) & 7 : st.st_mode & 7;
  }
  return (mode & 1) ? 0 : EACCES;
}

/* The user's home from the container's /etc/passwd, as runc's user.GetExecUser matches a numeric uid. */
static void passwd_home(uid_t uid, char *home, size_t n) {
  snprintf(home, n, "/");
  char *text = read_file("/etc/passwd", NULL);
  if (!text) return;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char *s = line, *e = line + strlen(line);
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    if (*s) {
      char *f[7] = {0};
      int k = 0;
      f[k++] = s;
      for (char *p = s; *p && k < 7; p++)
        if (*p == ':') { *p = 0; f[k++] = p + 1; }
      /* Go's Atoi with errors ignored: a malformed or missing uid reads as 0. */
      long long v = 0;
      if (f[2]) {
        char *end;
        errno = 0;
        v = strtoll(f[2], &end, 10);
        if (*end || end == f[2] || isspace((unsigned char)f[2][0])) v = 0;
      }
      if (v == (long long)uid) {
        snprintf(home, n, "%s", f[5] ? f[5] : "");
        free(text);
        return;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
}

/* runc's populateProcessEnvironment + os.Environ: one entry per name, first place, last value. */
static char **process_env(struct cfg *c) {
  char **out = calloc((size_t)c->nenv + 2, sizeof *out);
  int n = 0;
  for (int i = 0; i < c->nenv; i++) {
    size_t kl = (size_t)(strchr(c->env[i], '=') - c->env[i]);
    int at = -1;
    for (int k = 0; k < n; k++)
      if (!strncmp(out[k], c->env[i], kl + 1)) at = k;
    if (at >= 0) out[at] = c->env[i];
    else out[n++] = c->env[i];
  }
  out[n] = NULL;
  return out;
}

static void set_home(char ***envp, const char *home) {
  char **env = *envp;
  int n = 0, at = -1;
  for (; env[n]; n++)
    if (!strncmp(env[n], "HOME=", 5)) at = n;
  if (at >= 0 && env[at][5]) return;
  char *h = malloc(strlen(home) + 6);
  sprintf(h, "HOME=%s", home);
  if (at >= 0) env[at] = h;
  else {
    env[n] = h;
    env[n + 1] = NULL;
  }
}

static int capset_v3(uint64_t eff, uint64_t prm, uint64_t inh) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2] = {
    {.effective = (uint32_t)eff, .permitted = (uint32_t)prm, .inheritable = (uint32_t)inh},
    {.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32), .inheritable = (uint32_t)(inh >> 32)},
  };
  return (int)syscall(SYS_capset, &h, d);
}

/* gocapability's Apply(BOUNDS): drop what is not in the set, when CAP_SETPCAP is effective. */
static int apply_bounding(struct cfg *c) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  if (!(d[0].effective & (1u << CAP_SETPCAP))) return 0;
  for (int i = 0; i <= c->last_cap; i++) {
    if (c->caps[0] & (1ull << i)) continue;
    if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL) return -1;
  }
  return 0;
}

/* runc's fixStdioPermissions: stdio not /dev/null and not the user's becomes the user's (gid kept). */
static void fix_stdio(uid_t uid) {
  struct stat null;
  if (stat("/dev/null", &null) < 0) cfail("unable to setup user: stat /dev/null: %s", goerr(errno));
  static const char *names[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
  for (int fd = 0; fd < 3; fd++) {
    struct stat s;
    if (fstat(fd, &s) < 0) cfail("unable to setup user: fstat %s: %s", names[fd], goerr(errno));
    if (s.st_uid == uid || s.st_rdev == null.st_rdev) continue;
    if (fchown(fd, uid, s.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
      cfail("unable to setup user: chown %s: %s", names[fd], goerr(errno));
  }
}

static void child(struct cfg *c) __attribute__((noreturn));
static void child(struct cfg *c) {
  /* Signals as runc's Go init leaves them for the execve: nothing blocked,
   * nothing ignored except an inherited SIGHUP/SIGINT. */
  for (int s = 1; s < NSIG; s++) {
    struct sigaction sa;
    if (s == SIGKILL || s == SIGSTOP || s == SIGHUP || s == SIGINT) continue;
    if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
      sa.sa_handler = SIG_DFL;
      sigaction(s, &sa, NULL);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  /* nsexec: oom_score_adj first (a non-dumpable process may not write it), then non-dumpable. */
  if (c->oom_set) {
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", c->oom);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, b, (size_t)n) != n) cfail("failed to update /proc/self/oom_score_adj: %s", goerr(errno));
    close(fd);
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) cfail("failed to set process as non-dumpable: %s", goerr(errno));

  /* The container's cgroups, before any of its namespaces (the writes name ourselves, "0"). */
  if (c->cg2_procs >= 0 && !c->in_cg2 && write(c->cg2_procs, "0", 1) != 1) cfail("joining the v2 cgroup: %s", goerr(errno));
  for (int i = 0; i < c->ncg; i++)
    if (write(c->cg_fd[i], "0", 1) != 1) cfail("joining a v1 cgroup: %s", goerr(errno));
  for (int i = 0; i < c->nns; i++) {
    if (setns(c->ns_fd[i], c->ns_flag[i]) < 0) cfail("failed to setns into a namespace: %s", goerr(errno));
    close(c->ns_fd[i]);
  }

  for (int i = 0; i < c->nrl; i++)
    if (setrlimit((__rlimit_resource_t)c->rl[i].res, &c->rl[i].rl) < 0)
      cfail("error setting rlimits for process: error setting rlimit type %d: %s", c->rl[i].res, goerr(errno));

  /* nsexec's stage 2: a session of its own, uid and gid 0 (setgroups there is for user namespaces only). */
  if (setsid() < 0) cfail("setsid failed: %s", goerr(errno));
  if (setuid(0) < 0) cfail("setuid failed: %s", goerr(errno));
  if (setgid(0) < 0) cfail("setgid failed: %s", goerr(errno));

  /* setns_init: the container's session keyring rather than ours. */
  if (c->new_keyring) {
    char name[512];
    snprintf(name, sizeof name, "_ses.%s", cid);
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS)
      cfail("unable to join session keyring: %s", goerr(errno));
  }

  if (c->terminal) {
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) cfail("open /dev/ptmx: %s", goerr(errno));
    unsigned ptn, unlock = 0;
    if (ioctl(m, TIOCGPTN, &ptn) < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0) cfail("pty: %s", goerr(errno));
    if (c->cons_h && c->cons_w) {
      struct winsize ws = {.ws_row = (unsigned short)c->cons_h, .ws_col = (unsigned short)c->cons_w};
      if (ioctl(m, TIOCSWINSZ, &ws) < 0) cfail("pty resize: %s", goerr(errno));
    }
    /* To the parent, which hands it on once nothing can fail any more. */
    if (send_fd(sync_fd, "T", m) < 0) cfail("passing the terminal: %s", goerr(errno));
    close(m);
    char slave[64];
    snprintf(slave, sizeof slave, "/dev/pts/%u", ptn);
    int s = open(slave, O_RDWR);
    if (s < 0) cfail("open %s: %s", slave, goerr(errno));
    for (int fd = 0; fd < 3; fd++)
      if (dup3(s, fd, 0) < 0) cfail("dup3: %s", goerr(errno));
    if (ioctl(0, TIOCSCTTY, 0) < 0) cfail("ioctl TIOCSCTTY: %s", goerr(errno));
  }

  if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) cfail("prctl no_new_privs: %s", goerr(errno));
  /* Without no_new_privs loading seccomp needs CAP_SYS_ADMIN, so before the capabilities go. */
  if (c->bpf && !c->nnp && load_seccomp(c) < 0)
    cfail("error loading seccomp filter into kernel: error loading seccomp filter: %s", goerr(errno));

  /* finalizeNamespace */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < 1024; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  char q[PATH_MAX * 4 + 8];
  goquote(q, sizeof q, c->cwd);
  int chdir_later = 0;
  if (chdir(c->cwd) < 0) {
    if (errno == EACCES || errno == EPERM) chdir_later = 1;
    else cerr("chdir to cwd (%s) set in config.json failed: %s", q, goerr(errno));
  }
  if (apply_bounding(c) < 0) cfail("unable to apply bounding set: %s", goerr(errno));
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) cfail("unable to set keep caps: %s", goerr(errno));
  char home[PATH_MAX];
  passwd_home(c->uid, home, sizeof home);
  fix_stdio(c->uid);
  if (setgroups((size_t)c->ngroups, c->groups) < 0) cfail("unable to setup user: setgroups: %s", goerr(errno));
  if (syscall(SYS_setgid, c->gid) < 0) cfail("unable to setup user: setgid: %s", goerr(errno));
  if (syscall(SYS_setuid, c->uid) < 0) cfail("unable to setup user: setuid: %s", goerr(errno));
  char **env = process_env(c);
  set_home(&env, home);
  if (chdir_later && chdir(c->cwd) < 0) cerr("chdir to cwd (%s) set in config.json failed: %s", q, goerr(errno));
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) cfail("unable to clear keep caps: %s", goerr(errno));
  if (apply_bounding(c) < 0 || capset_v3(c->caps[1], c->caps[3], c->caps[2]) < 0) cfail("unable to apply caps: %s", goerr(errno));
  /* Ambient: runc raises or lowers each one and ignores failures. */
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int i = 0; i <= c->last_cap; i++)
    if (c->caps[4] & (1ull << i)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0);

  char name[PATH_MAX];
  look_path(c->args[0], env, name, sizeof name);
  int e = go_eaccess(name);
  if (e) cerr("eaccess %s: %s", name, goerr(e));
  /* With no_new_privs, seccomp as close to the execve as runc puts it. */
  if (c->bpf && c->nnp && load_seccomp(c) < 0)
    cfail("unable to init seccomp: error loading seccomp filter into kernel: error loading seccomp filter: %s", goerr(errno));

  /* The parent reports success from here on, as runc does once its init closed the pipe. */
  if (send(sync_fd, "K", 1, MSG_NOSIGNAL) < 0) _exit(1);
  close(sync_fd);
  for (;;) {
    execve(name, c->args, env);
    if (errno != EINTR) break;
  }
  dprintf(2, "exec %s: %s\n", name, goerr(errno));
  _exit(1);
}

/* ---- CVE-2019-5736 ------------------------------------------------------- */

/*
 * A process in the container that holds CAP_SYS_PTRACE may open our
 * /proc/<pid>/exe while we are in its pid namespace, and write to this binary
 * once we exec'd. As runc does, such containers get a sealed in-memory copy.
 * Without CAP_SYS_PTRACE, being non-dumpable keeps them out.
 */
static void ensure_cloned(void) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) fallback("cannot open /proc/self/exe");
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
    close(self);
    return;
  }
  int m = memfd_create("pier-nsexec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat st;
  if (m < 0 || fstat(self, &st) < 0) fallback("memfd_create");
  off_t off = 0;
  while (off < st.st_size)
    if (sendfile(m, self, &off, (size_t)(st.st_size - off)) <= 0) fallback("copying the binary");
  if (fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) fallback("sealing the copy");
  close(self);
  extern char **environ;
  fexecve(m, g_argv, environ);
  fallback("fexecve of the sealed copy");
}

/* ---- main --------------------------------------------------------------- */

static void write_pid_file(pid_t pid) {
  char tmp[PATH_MAX + 8], dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", pid_file);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    snprintf(tmp, sizeof tmp, "%s/.%s", dir, slash + 1);
  } else snprintf(tmp, sizeof tmp, ".%s", pid_file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  char b[32];
  int n = snprintf(b, sizeof b, "%d", (int)pid);
  if (fd < 0 || write(fd, b, (size_t)n) != n || close(fd) < 0 || rename(tmp, pid_file) < 0) {
    kill(pid, SIGKILL);
    char m[PATH_MAX + 64];
    snprintf(m, sizeof m, "open %s: %s", tmp, goerr(errno));
    log_line("error", m);
    exit(255);
  }
}

static void parse_args(int argc, char **argv) {
  int i = 1, detach = 0;
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--runc") && v) { runc_path = v; i++; }
    else if (!strcmp(a, "--root") && v) { root_dir = v; i++; }
    else if (!strcmp(a, "--log") && v) { log_path = v; i++; }
    else if (!strcmp(a, "--log-format") && v) {
      if (strcmp(v, "json")) fallback("log format");
      i++;
    } else if (a[0] == '-') fallback("a runc option");
    else break;
  }
  if (i >= argc || strcmp(argv[i], "exec")) fallback("not exec");
  for (i++; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--detach") || !strcmp(a, "-d")) detach = 1;
    else if ((!strcmp(a, "--process") || !strcmp(a, "-p")) && v) { process_path = v; i++; }
    else if (!strcmp(a, "--pid-file") && v) { pid_file = v; i++; }
    else if (!strcmp(a, "--console-socket") && v) { console_path = v; i++; }
    else if (a[0] == '-') fallback("an exec option");
    else if (!cid) cid = a;
    else fallback("arguments after the container id");
  }
  if (!detach || !process_path || !pid_file || !root_dir || !cid || !valid_id(cid)) fallback("an exec this does not handle");
}

int main(int argc, char **argv) {
  g_argv = argv;
  parse_args(argc, argv);

  struct cfg c;
  memset(&c, 0, sizeof c);
  c.last_cap = CAP_LAST_CAP;
  char *lc = read_file("/proc/sys/kernel/cap_last_cap", NULL);
  if (lc) c.last_cap = atoi(lc);
  if (c.last_cap > 63) c.last_cap = 63;

  jv *spec = NULL;
  jv *proc = load_json(process_path);
  read_state(cid, &c, &spec);
  read_process(proc, spec, &c);
  if (c.terminal != !!console_path) fallback("terminal without a console socket, or the reverse");
  if (console_path && strlen(console_path) >= sizeof ((struct sockaddr_un *)0)->sun_path) fallback("console socket path too long");

  /* The container's bounding set decides whether its processes may ptrace us. */
  uint64_t ctr[5] = {0};
  jv *ccaps = jget(jget(spec, "process"), "capabilities");
  if (ccaps && caps_of(ccaps, c.last_cap, ctr) < 0) fallback("container capabilities");
  if (ctr[0] & (1ull << CAP_SYS_PTRACE)) ensure_cloned();

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) fallback("socketpair");
  /* The child is born in the container's pid namespace (and v2 cgroup); this
   * process keeps its own and can still hand everything to runc. */
  int own_pid_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own_pid_ns < 0) fallback("cannot open our pid namespace");
  if (c.pid_ns_fd >= 0 && setns(c.pid_ns_fd, CLONE_NEWPID) < 0) fallback("setns pid");
  pid_t pid = -1;
  if (c.cg2_dir >= 0) {
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; } ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = 0x200000000ULL; /* CLONE_INTO_CGROUP */
    ca.exit_signal = SIGCHLD;
    ca.cgroup = (uint64_t)c.cg2_dir;
    c.in_cg2 = 1;
    pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0) {
      close(sp[0]);
      sync_fd = sp[1];
      child(&c);
    }
    c.in_cg2 = 0; /* older kernel, or refused (a full pids.max): the child writes cgroup.procs as runc does */
  }
  if (pid < 0) pid = fork();
  if (pid < 0) {
    setns(own_pid_ns, CLONE_NEWPID);
    fallback("fork");
  }
  if (pid == 0) {
    close(sp[0]);
    sync_fd = sp[1];
    child(&c);
  }
  close(sp[1]);

  int master = -1, ok = 0;
  char msg[4096] = "";
  for (;;) {
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg - 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
    ssize_t n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg[n] = 0;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (msg[0] == 'T' && cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&master, CMSG_DATA(cm), sizeof master);
    else if (msg[0] == 'K') ok = 1;
    else if (msg[0] == 'E' || msg[0] == 'F') break;
  }
  if (!ok) {
    int st;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    if (msg[0] == 'E') die(msg + 1);
    /* Anything unexpected: runc does it all again, and says what it says. */
    if (setns(own_pid_ns, CLONE_NEWPID) < 0) die("cannot return to our pid namespace");
    if (master >= 0) close(master);
    fallback(msg[0] == 'F' ? msg + 1 : "the child ended while joining the container");
  }
  if (master >= 0) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int cs = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (console_path && strlen(console_path) < sizeof a.sun_path) strcpy(a.sun_path, console_path);
    if (cs < 0 || connect(cs, (struct sockaddr *)&a, sizeof a) < 0 || send_fd(cs, "/dev/ptmx", master) < 0) {
      kill(pid, SIGKILL);
      die("failed to send the console to the console socket");
    }
    close(cs);
    close(master);
  }
  write_pid_file(pid);
  return 0;
}
