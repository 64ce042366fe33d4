/* A sealed in-memory copy of the OCI runtime's executable, run by every container start
 * and exec instead of the file on disk.
 *
 * Why: runc and crun protect the host's binary from a container (CVE-2019-5736) by
 * copying themselves, at each `run`, `create` and `exec`, into a sealed memfd and
 * re-executing that copy, unless /proc/self/exe already is a memfd with exactly
 * their seals (write, grow, shrink, seal): "you cannot write to a sealed memfd no
 * matter what (so sharing it isn't a bad thing)" (runc's cloned_binary.c). For runc
 * (8.7 MB) that copy and the faults on its fresh pages are ~8 ms of CPU per start
 * here. One copy made by nanocld and shared by all starts keeps the protection (the
 * copy cannot be written) and skips that work; it costs the binary's size in shared
 * memory while nanocld runs. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

struct runtime_sealed {
  pthread_mutex_t mu;
  int fd;               /* the copy (close-on-exec), -1: none yet */
  struct stat of;       /* the file it was copied from, to notice an upgrade */
  bool off;             /* not possible here (no memfd, not an ELF file…): use the path */
};

void runtime_sealed_init(struct runtime_sealed *s);
void runtime_sealed_destroy(struct runtime_sealed *s);

/* A new close-on-exec descriptor of the sealed copy of `path` (made or remade when the
 * file changed), to run with fexecve(3); the caller closes it.
 * -1 when there is none: run `path` itself (a script, an old kernel, no memory). */
int runtime_sealed_get(struct runtime_sealed *s, const char *path);

