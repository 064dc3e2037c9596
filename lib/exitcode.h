/* Exit codes, the same for every command (documented in ssmbak(1),
 * section EXIT STATUS). */
#ifndef SSMBAK_EXITCODE_H
#define SSMBAK_EXITCODE_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_RUN = 1, /* AWS or runtime failure, or some keys failed */
	EXIT_USAGE = 2,       /* bad command line or argument */
	EXIT_CONFIG = 3,      /* no credentials, region or bucket; bad config */
};

#endif
