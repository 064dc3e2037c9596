#include "harden.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int harden_process(struct err *e)
{
	struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &none) < 0) {
		err_set(e, ERR_SYSTEM, "setrlimit(RLIMIT_CORE, 0): %s",
			strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		err_set(e, ERR_SYSTEM, "prctl(PR_SET_DUMPABLE, 0): %s",
			strerror(errno));
		return -1;
	}
	return 0;
}
