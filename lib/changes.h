/* The change index (FORMAT.md, "The change index"): one empty object per
 * recorded change, whose key says all that choosing a version needs, so a
 * listing answers without a request per version. Pure: no I/O. */
#ifndef SSMBAK_CHANGES_H
#define SSMBAK_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>


#define CHANGES_ROOT ".ssmbak/changes"
/* Sorts before every character a parameter name can hold (the smallest is
 * '-'), so the index lists in the same key order as the data versions. */
#define CHANGES_SEPARATOR '!'
#define S3_KEY_MAX 1024

/* RECORD_GAP: a Create or Update whose value could no longer be read when
 * it was recorded (FORMAT.md, "Gaps"): an index entry with no version.
 * RECORD_LABEL: a LabelParameterVersion event, recorded as the version
 * current at the event with its labels (FORMAT.md, "Tags, labels,
 * policies, user").
 * RECORD_REPAIR: a version `verify --repair` took from SSM's history
 * (FORMAT.md, "Repairs"); readers treat it as an Update. */
enum record_op { RECORD_CREATE, RECORD_UPDATE, RECORD_DELETE, RECORD_BACKFILL,
		 RECORD_GAP, RECORD_LABEL, RECORD_REPAIR };
/* The index's name of a Delete whose time is when `verify --repair`
 * noticed it, not when it happened (FORMAT.md, "Repairs"). It parses as
 * RECORD_DELETE with approximate set, so every reader treats it as a
 * Delete. */
#define CHANGES_OP_DELETE_NOTICED "DeleteNoticed"
#define CHANGES_NO_VERSION_ID "-"
const char *record_op_name(enum record_op op);
/* Also takes the event's "LabelParameterVersion" for RECORD_LABEL. */
int record_op_parse(const char *s, enum record_op *op);

struct change_entry {
	time_t event_time;
	long long ssm_version; /* 0: not known */
	enum record_op op;
	long long modified_ms; /* SSM LastModifiedDate in ms; 0: not known */
	char *version_id;      /* of the data version or delete marker */
	/* What history and log show without reading the version (FORMAT.md,
	 * "What an entry tells"): NULL when not recorded. */
	char *user;            /* LastModifiedUser, an ARN */
	char *type;            /* String, StringList, SecureString */
	char *labels;          /* the version's labels, joined by ',' */
	char *description;
	bool partial;          /* fields left out to fit S3's key length: the
				* version's metadata has them */
	bool approximate;      /* a Delete noticed, not observed: its time is
				* when it was noticed */
};

void change_entry_release(struct change_entry *c);
int change_entry_copy(struct change_entry *dst, const struct change_entry *src);

/* A key prefix as given ("123/us-east-1/") in its stored form, without
 * leading or trailing slashes ("123/us-east-1"); NULL when it has an empty
 * level or a character S3 keys should not carry. Caller frees. */
char *changes_normalize_prefix(const char *prefix);
/* The data key of a parameter key ("/app/x") under the prefix:
 * "/app/x" or "123/us-east-1/app/x". Caller frees. */
char *changes_data_key(const char *prefix, const char *param_key);
/* The index root of a prefix: ".ssmbak/changes" or
 * ".ssmbak/changes@123/us-east-1". Caller frees. */
char *changes_root(const char *prefix);
/* The entry's full key, NULL when it would pass S3's 1,024 bytes (the
 * version is then read from its tags) or out of memory. */
char *changes_entry_key(const char *prefix, const char *param_key,
			const struct change_entry *c);
/* Splits a listed index key (which starts with root) into the parameter
 * key and the entry. -1 when it is not an entry of this grammar. */
int changes_parse_key(const char *key, const char *root, char **param_key,
		      struct change_entry *out);

/* The log: a second index of the same entries, ordered by event time
 * within an hour (FORMAT.md, "The log"):
 * .ssmbak/log[@PREFIX]/YYYYMMDDHH/TTTTTTTTTT/KEY!TIME.VERSION.OP.MODIFIED.VERSIONID[,FIELDS] */
#define LOG_ROOT ".ssmbak/log"
#define LOG_HOUR_SECONDS 3600
/* ".ssmbak/log[@PREFIX]/YYYYMMDDHH/": the listing prefix of one hour.
 * Caller frees. */
char *changes_log_hour_prefix(const char *prefix, time_t hour_start);
/* The log key of a change, NULL when it would pass S3's 1,024 bytes. */
char *changes_log_key(const char *prefix, const char *param_key,
		      const struct change_entry *c);
/* Splits a listed log key (which starts with hour_prefix). */
int changes_parse_log_key(const char *key, const char *hour_prefix,
			  char **param_key, struct change_entry *out);

#endif
