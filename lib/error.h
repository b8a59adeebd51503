/* One error type for the whole library: a code and a message a user can act on. */
#ifndef VSNAP_ERROR_H
#define VSNAP_ERROR_H

#include <stdarg.h>

#if defined(__GNUC__)
# define VS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
# define VS_PRINTF(f, a)
#endif

/*
 * The code decides the prefix the message is printed with, copying libvirt's
 * wording so that vsnap's stderr matches virsh's where the situation is the same.
 */
typedef enum vs_err_code {
    VS_ERR_OK = 0,
    VS_ERR_PLAIN,              /* no prefix: flag checks and vsnap's own wording */
    VS_ERR_INTERNAL,           /* "internal error: " */
    VS_ERR_INVALID_ARG,        /* "invalid argument: " */
    VS_ERR_OPERATION_FAILED,   /* "operation failed: " */
    VS_ERR_XML,                /* "XML error: " */
    VS_ERR_OPERATION_INVALID,  /* "Requested operation is not valid: " */
    VS_ERR_CONFIG_UNSUPPORTED, /* "unsupported configuration: " */
    VS_ERR_NO_SNAPSHOT,        /* "Domain snapshot not found: " */
    VS_ERR_NO_DOMAIN,          /* "Domain not found: " */
    VS_ERR_REVERT_FORCE,       /* "revert requires force: " */
    VS_ERR_NO_SUPPORT,         /* "Operation not supported: " */
    VS_ERR_SCHEMA,             /* "XML document failed to validate against schema: " */
    VS_ERR_BUSY,               /* another vsnap holds the domain lock; no prefix */
    VS_ERR_SYSTEM,             /* system call failed; message ends in ": strerror" */
    VS_ERR_TIMEOUT,            /* "operation timed out: " */
    VS_ERR_AGENT_UNRESPONSIVE, /* "Guest agent is not responding: " */
    VS_ERR_ARG_UNSUPPORTED,    /* "argument unsupported: " */
} vs_err_code;

#define VS_ERROR_MSG_MAX 4096

typedef struct vs_error {
    vs_err_code code;
    int sys_errno;                 /* errno for VS_ERR_SYSTEM, else 0 */
    char msg[VS_ERROR_MSG_MAX];    /* full text including the prefix, no newline */
} vs_error;

/* Fill err (may be NULL) with code, the code's prefix and the formatted text.
 * Always returns -1 so callers can write `return vs_error_set(...)`.
 * A later call overwrites an earlier one. */
int vs_error_set(vs_error *err, vs_err_code code, const char *fmt, ...) VS_PRINTF(3, 4);
int vs_error_setv(vs_error *err, vs_err_code code, const char *fmt, va_list ap) VS_PRINTF(3, 0);

/* VS_ERR_SYSTEM: "<formatted text>: <strerror(errnum)>". Returns -1. */
int vs_error_sys(vs_error *err, int errnum, const char *fmt, ...) VS_PRINTF(3, 4);

/* Reset to VS_ERR_OK and an empty message. */
void vs_error_clear(vs_error *err);

/* The prefix printed for a code ("" for PLAIN, BUSY, SYSTEM). */
const char *vs_error_prefix(vs_err_code code);

#endif
