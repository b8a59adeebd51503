#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const char *
vs_error_prefix(vs_err_code code)
{
    switch (code) {
    case VS_ERR_INTERNAL:           return "internal error: ";
    case VS_ERR_INVALID_ARG:        return "invalid argument: ";
    case VS_ERR_OPERATION_FAILED:   return "operation failed: ";
    case VS_ERR_XML:                return "XML error: ";
    case VS_ERR_OPERATION_INVALID:  return "Requested operation is not valid: ";
    case VS_ERR_CONFIG_UNSUPPORTED: return "unsupported configuration: ";
    case VS_ERR_NO_SNAPSHOT:        return "Domain snapshot not found: ";
    case VS_ERR_NO_DOMAIN:          return "Domain not found: ";
    case VS_ERR_REVERT_FORCE:       return "revert requires force: ";
    case VS_ERR_NO_SUPPORT:         return "Operation not supported: ";
    case VS_ERR_SCHEMA:             return "XML document failed to validate against schema: ";
    case VS_ERR_TIMEOUT:            return "operation timed out: ";
    case VS_ERR_AGENT_UNRESPONSIVE: return "Guest agent is not responding: ";
    case VS_ERR_ARG_UNSUPPORTED:    return "argument unsupported: ";
    case VS_ERR_OK:
    case VS_ERR_PLAIN:
    case VS_ERR_BUSY:
    case VS_ERR_SYSTEM:
        break;
    }
    return "";
}

/*
 * The message is printed after "error: " on a single line, and it may quote
 * user input (names, file contents), so newlines and tabs become spaces and
 * every other control byte is shown as \xNN instead of reaching the terminal.
 */
static void
store_sanitized(vs_error *err, const char *prefix, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, cap = sizeof(err->msg) - 1;
    const char *p;

    for (p = prefix; *p && n < cap; p++)
        err->msg[n++] = *p;
    for (p = text; *p && n < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n' || c == '\t' || c == '\r') {
            err->msg[n++] = ' ';
        } else if (c < 0x20 || c == 0x7f) {
            if (n + 4 > cap)
                break;
            err->msg[n++] = '\\';
            err->msg[n++] = 'x';
            err->msg[n++] = hex[c >> 4];
            err->msg[n++] = hex[c & 0xf];
        } else {
            err->msg[n++] = (char)c;
        }
    }
    while (n > 0 && err->msg[n - 1] == ' ')
        n--;
    err->msg[n] = '\0';
}

static void set_formatted(vs_error *err, vs_err_code code, int sys_errno, const char *fmt,
                          va_list ap, const char *suffix) VS_PRINTF(4, 0);

static void
set_formatted(vs_error *err, vs_err_code code, int sys_errno, const char *fmt, va_list ap,
              const char *suffix)
{
    char text[VS_ERROR_MSG_MAX * 2];
    int len;

    len = vsnprintf(text, sizeof(text), fmt, ap);
    if (len < 0) {
        text[0] = '\0';
        len = 0;
    }
    if (suffix && (size_t)len < sizeof(text))
        snprintf(text + len, sizeof(text) - (size_t)len, ": %s", suffix);
    err->code = code;
    err->sys_errno = sys_errno;
    store_sanitized(err, vs_error_prefix(code), text);
}

int
vs_error_setv(vs_error *err, vs_err_code code, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    set_formatted(err, code, 0, fmt, ap, NULL);
    return -1;
}

int
vs_error_set(vs_error *err, vs_err_code code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    set_formatted(err, code, 0, fmt, ap, NULL);
    va_end(ap);
    return -1;
}

int
vs_error_sys(vs_error *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    char ebuf[256];
    const char *etext;

    if (!err)
        return -1;
    etext = strerror_r(errnum, ebuf, sizeof(ebuf));
    va_start(ap, fmt);
    set_formatted(err, VS_ERR_SYSTEM, errnum, fmt, ap, etext);
    va_end(ap);
    return -1;
}

void
vs_error_clear(vs_error *err)
{
    if (!err)
        return;
    err->code = VS_ERR_OK;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}
