/* Keeping decrypted values out of core files: the process runs with no
 * core size and is not dumpable (no core, no ptrace attach by other
 * processes of the same user, /proc/PID/mem and environ closed to them).
 * https://man7.org/linux/man-pages/man2/prctl.2.html (PR_SET_DUMPABLE),
 * https://man7.org/linux/man-pages/man2/getrlimit.2.html (RLIMIT_CORE) */
#ifndef SSMBAK_HARDEN_H
#define SSMBAK_HARDEN_H

#include "err.h"

/* Both limits, or ERR_SYSTEM naming the call that failed. */
int harden_process(struct err *e);

#endif
