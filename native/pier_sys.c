/*
 * pier_sys: the few Linux system calls that Node.js lacks and that Pier needs on
 * hot paths — mount(2), umount2(2), mknod(2) and the l*xattr(2) family.
 * Spawning mount(8)/setfattr(1) costs ~2-4 ms a call; these cost microseconds
 * (see docs/architecture.md, "Kernel calls"). Network namespaces too: a new
 * one pinned by a bind mount, and sockets bound inside one (the embedded DNS
 * server's 127.0.0.11) — setns(2) is per thread, so the switch and back happen
 * within one synchronous call on the calling thread. Each function throws an Error
 * with `code` set to the errno name (EPERM, ENOENT...) like Node's fs does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/file.h>
#include <sched.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAXSTR 8192

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EACCES: return "EACCES";
    case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR"; case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY"; case ENODATA: return "ENODATA"; case ENOTSUP: return "ENOTSUP";
    case ENOSPC: return "ENOSPC"; case ERANGE: return "ERANGE"; case ENODEV: return "ENODEV";
    case ELOOP: return "ELOOP"; case EADDRINUSE: return "EADDRINUSE"; case EADDRNOTAVAIL: return "EADDRNOTAVAIL"; case EROFS: return "EROFS"; case E2BIG: return "E2BIG";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *call, const char *arg) {
  int e = errno;
  char msg[MAXSTR + 128];
  snprintf(msg, sizeof msg, "%s %s: %s", call, arg ? arg : "", strerror(e));
  napi_value m, c, err, num;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &err);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
  return NULL;
}

/* Reads argument i as a string into a malloc'd buffer (NULL for null/undefined). */
static char *arg_str(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return NULL;
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static double arg_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

/* mount(source, target, fstype, flags, data) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *src = arg_str(env, argv[0]), *tgt = arg_str(env, argv[1]), *fs = arg_str(env, argv[2]), *data = arg_str(env, argv[4]);
  unsigned long flags = (unsigned long)arg_num(env, argv[3]);
  int r = mount(src, tgt, fs, flags, data);
  napi_value ret = NULL;
  if (r != 0) throw_errno(env, "mount", tgt);
  free(src); free(tgt); free(fs); free(data);
  return ret;
}

/* umount2(target, flags) */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *tgt = arg_str(env, argv[0]);
  int r = umount2(tgt, (int)arg_num(env, argv[1]));
  if (r != 0) throw_errno(env, "umount", tgt);
  free(tgt);
  return NULL;
}

/* mknod(path, mode, major, minor) */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *p = arg_str(env, argv[0]);
  int r = mknod(p, (mode_t)arg_num(env, argv[1]), makedev((unsigned)arg_num(env, argv[2]), (unsigned)arg_num(env, argv[3])));
  if (r != 0) throw_errno(env, "mknod", p);
  free(p);
  return NULL;
}

/* lsetxattr(path, name, Buffer value) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *p = arg_str(env, argv[0]), *n = arg_str(env, argv[1]);
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[2], &data, &len);
  int r = lsetxattr(p, n, data, len, 0);
  if (r != 0) throw_errno(env, "lsetxattr", p);
  free(p); free(n);
  return NULL;
}

/* lgetxattr(path, name) -> Buffer | null when absent */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *p = arg_str(env, argv[0]), *n = arg_str(env, argv[1]);
  char buf[65536];
  ssize_t r = lgetxattr(p, n, buf, sizeof buf);
  napi_value ret = NULL;
  if (r < 0) {
    if (errno == ENODATA || errno == ENOTSUP) napi_get_null(env, &ret);
    else throw_errno(env, "lgetxattr", p);
  } else {
    void *out;
    napi_create_buffer_copy(env, (size_t)r, buf, &out, &ret);
  }
  free(p); free(n);
  return ret;
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *p = arg_str(env, argv[0]);
  char buf[65536];
  ssize_t r = llistxattr(p, buf, sizeof buf);
  napi_value arr = NULL;
  if (r < 0) {
    if (errno == ENOTSUP) { napi_create_array(env, &arr); }
    else throw_errno(env, "llistxattr", p);
  } else {
    napi_create_array(env, &arr);
    uint32_t i = 0;
    for (ssize_t off = 0; off < r;) {
      size_t l = strlen(buf + off);
      napi_value s;
      napi_create_string_utf8(env, buf + off, l, &s);
      napi_set_element(env, arr, i++, s);
      off += (ssize_t)l + 1;
    }
  }
  free(p);
  return arr;
}

/* flock(fd, exclusive-non-blocking) -> true when taken, false when another holder has it */
static napi_value js_trylock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = (int)arg_num(env, argv[0]);
  napi_value ret;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) { napi_get_boolean(env, true, &ret); return ret; }
  if (errno == EWOULDBLOCK) { napi_get_boolean(env, false, &ret); return ret; }
  return throw_errno(env, "flock", "");
}


/* Brings the loopback interface of the current network namespace up. */
static int lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(s);
  errno = e;
  return rc;
}

/* netnsCreate(path): a new network namespace with lo up, pinned by a bind mount at path (a new file). */
static napi_value js_netns_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = arg_str(env, argv[0]);
  if (!path) { errno = EINVAL; return throw_errno(env, "netnsCreate", "path"); }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) { napi_value r = throw_errno(env, "open", "/proc/thread-self/ns/net"); free(path); return r; }
  int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (f < 0) { napi_value r = throw_errno(env, "create", path); close(self); free(path); return r; }
  close(f);
  const char *failed = NULL;
  if (unshare(CLONE_NEWNET) < 0) failed = "unshare";
  else if (lo_up() < 0) failed = "loopback up";
  else if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) failed = "mount";
  int e = errno;
  if (setns(self, CLONE_NEWNET) < 0) abort(); /* never go on in the wrong namespace */
  close(self);
  if (failed) { unlink(path); errno = e; napi_value r = throw_errno(env, failed, path); free(path); return r; }
  free(path);
  return NULL;
}

/* netnsSocket(nsPath, "udp"|"tcp", ipv4, port): a non-blocking socket bound (and, for tcp, listening)
 * inside the namespace at nsPath; returns its fd. */
static napi_value js_netns_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = arg_str(env, argv[0]);
  char *type = arg_str(env, argv[1]);
  char *ip = arg_str(env, argv[2]);
  int port = (int)arg_num(env, argv[3]);
  napi_value ret = NULL;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  int tcp = type && strcmp(type, "tcp") == 0;
  if (!path || !ip || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) { errno = EINVAL; ret = throw_errno(env, "netnsSocket", ip); goto out; }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) { ret = throw_errno(env, "open", "/proc/thread-self/ns/net"); goto out; }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) { close(self); ret = throw_errno(env, "open", path); goto out; }
  const char *failed = NULL;
  int s = -1;
  if (setns(target, CLONE_NEWNET) < 0) failed = "setns";
  else {
    s = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s < 0) failed = "socket";
    else if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) failed = "setsockopt";
    else if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) failed = "bind";
    else if (tcp && listen(s, 64) < 0) failed = "listen";
  }
  int e = errno;
  if (setns(self, CLONE_NEWNET) < 0) abort();
  close(self);
  close(target);
  if (failed) {
    if (s >= 0) close(s);
    errno = e;
    ret = throw_errno(env, failed, path);
    goto out;
  }
  napi_create_int32(env, s, &ret);
out:
  free(path); free(type); free(ip);
  return ret;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"trylock", NULL, js_trylock, NULL, NULL, NULL, napi_default, NULL},
    {"netnsCreate", NULL, js_netns_create, NULL, NULL, NULL, napi_default, NULL},
    {"netnsSocket", NULL, js_netns_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
