/* Why the runtime could not start a container's or an exec's process, in one wording
 * whichever runtime said it. */
#pragma once

#include <stddef.h>

/* `msg` is the runtime's error, `cmd` the program it was to run (NULL: unknown).
 * Returns 127 when the program does not exist, 126 when it cannot be executed, 0 for
 * anything else (a mount, a working directory…). `out` gets Docker's wording for the
 * first two (`exec: "nope": executable file not found in $PATH`, `exec: "/etc/passwd":
 * permission denied`), where runc and crun each have their own, and `msg` otherwise. */
int runtime_exec_failure(const char *msg, const char *cmd, char *out, size_t size);
