/* The OCI bundle config (config.json) of a container, built the way Docker builds
 * it (moby's oci/defaults.go and daemon/oci_linux.go): default capabilities, mounts,
 * masked and read-only paths, device rules, and the image's config merged with the
 * container's spec. Validation is separate so the API can refuse a bad spec (422)
 * before anything exists. spec.c builds, spec-validate.c checks the spec and knows
 * capability and signal names, spec-user.c resolves users inside the root fs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Facts about this host and this container's files. */
struct spec_host {
  const char *rootfs;        /* absolute path of the mounted rootfs (config.root.path) */
  const char *hostname_file; /* files nanocld wrote for the container, bind-mounted read-only: */
  const char *hosts_file;    /*   /etc/hostname, /etc/hosts, /etc/resolv.conf (NULL: none) */
  const char *resolv_file;
  const char *cgroups_path;  /* linux.cgroupsPath, e.g. "/nanocl/<id>" (NULL: the runtime's) */
  const char *netns_path;    /* NULL: a new network namespace of its own (only lo); else join */
  uint64_t nofile_hard;      /* the host's hard RLIMIT_NOFILE (0: ask getrlimit) */
  bool cgroup_v2;            /* unified-only hosts: cgroup namespace; hybrid/v1 = false */
  bool swap_accounting;      /* memory.memsw (v1) / memory.swap.max (v2) exist: see probe.h */
};

/* Limits of runtime_spec_validate. */
#define SPEC_MEMORY_MIN (6 * 1024 * 1024) /* Docker's minimum memory limit */
#define SPEC_CPUS_MIN 0.01                /* a quota of 1 ms per 100 ms, the kernel's least */
#define SPEC_CPUS_MAX 1024.0
#define SPEC_ENV_MAX 4096
#define SPEC_BINDS_MAX 256
#define SPEC_ARGS_BYTES_MAX (1024 * 1024) /* entrypoint + cmd + env, NULs included */
#define SPEC_CPU_PERIOD 100000            /* µs */
#define SPEC_NOFILE_MAX 1048576
#define SPEC_PUBLISH_MAX 64
#define SPEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* image_config: the image's config JSON (OCI image config, {"config": {"Env", "Cmd",
 *   "Entrypoint", "WorkingDir", "User", …}}; NULL = an empty one).
 * spec: the container's spec JSON as the API takes it (every field optional; "name" and
 *   "image", of the create body, are accepted and ignored):
 *   {"cmd": [..], "entrypoint": [..], "env": ["K=V"], "workdir": "/x",
 *    "user": "name|uid[:gid|group]", "hostname": "h", "domainname": "d",
 *    "binds": ["/host:/ctr[:ro|:rw]"], "memory": <bytes>, "cpus": <float>,
 *    "pids_limit": <int>, "read_only": bool, "cap_add": [..], "cap_drop": [..],
 *    "labels": {..}, "stop_signal": "SIGTERM", "stop_timeout": <s>,
 *    "cluster": "c", "network": "n" (needs cluster), "publish": ["[IP:]HP:CP[/tcp|udp]"]
 *    (needs network), "auto_remove": bool} — cluster, network and publish are the network
 *   service's (the config only joins the namespace at host->netns_path), auto_remove the
 *   container service's (removed when it ends).
 * Validates `spec` first, then builds the OCI runtime config into *out (a new reference).
 * Docker's rules: args = entrypoint + cmd, where a spec entrypoint replaces the image's
 * ([] or [""] clears it), a spec cmd replaces the image's Cmd, and a non-empty spec
 * entrypoint without a spec cmd drops the image's Cmd; nothing left: "no command
 * specified". env = PATH (default) and HOSTNAME, then the image's Env, then the spec's,
 * replacing by key; HOME from passwd if still absent. process.user.additionalGids starts
 * with the primary gid (Docker, containerd). Stop signal and timeout are not part of the
 * OCI config: the caller keeps them. Errors (NC_ERR_INVALID) name the field. */
int runtime_spec_build(const json_t *image_config, const json_t *spec, const struct spec_host *host,
                       json_t **out, struct nc_err *err);

/* Validates a container spec: types, ranges, bind syntax (absolute paths, host path
 * exists, no ':' tricks, no "..", no duplicate destinations), memory >= 6 MiB or 0,
 * cpus in [0.01, 1024], pids_limit >= -1 (0 and -1 = unlimited), known capability
 * names, env entries "K=V" with a non-empty key, limits above, unknown fields refused.
 * Touches the file system only to check that bind sources exist. */
int runtime_spec_validate(const json_t *spec, struct nc_err *err);

/* Resolves "user" ("name", "uid", "name:group", "uid:gid", "" or NULL = root) against
 * rootfs/etc/passwd and rootfs/etc/group, opened with openat2(RESOLVE_IN_ROOT) so no
 * symlink leads out of the root fs (runc's GetExecUser rules). *groups (malloc'd, the
 * caller frees; NULL when none) are the groups listing the user as a member, only
 * when no group was given. `home` gets the passwd home, or "/" (home may be NULL).
 * A name not in passwd: NC_ERR_INVALID "unable to find user NAME: no matching entries
 * in passwd file" (Docker's wording); likewise for a group. */
int runtime_resolve_user(const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid,
                         uint32_t **groups, size_t *ngroups, char *home, size_t home_size,
                         struct nc_err *err);

/* Splits a bind "/host:/ctr[:ro|:rw]": both paths absolute, no "." or ".." segment and
 * no ':' inside, the destination not "/", cleaned of repeated and trailing slashes
 * into `src` and `dst` (PATH_MAX each); *ro true for ":ro". Does not look at the host:
 * runtime_spec_validate checks that the source exists. `field` names it in errors. */
int runtime_bind_parse(const char *bind, const char *field, char *src, char *dst, bool *ro,
                       struct nc_err *err);

/* The signal number of "SIGTERM", "TERM", "term", "15", "SIGRTMIN+3"; -1 if unknown. */
int runtime_signal_parse(const char *name);

/* "NET_ADMIN", "cap_net_admin", … → "CAP_NET_ADMIN" (a static string); NULL if unknown.
 * "ALL" is not a capability: callers check it first. */
const char *runtime_capability_name(const char *name);
/* The capabilities this kernel knows (CAP_CHOWN … /proc/sys/kernel/cap_last_cap),
 * in number order, for "ALL". Returns how many were put in `out` (at most `max`). */
size_t runtime_capabilities_all(const char **out, size_t max);
