/* Running domains: start, shutdown, destroy, suspend, resume,
 * qemu-monitor-command, qemu-agent-command (virsh's output and messages). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "domain_run.h"
#include "domain_save.h"
#include "mem.h"
#include "qmp.h"

/* shutdown waits this long for the guest unless --timeout says otherwise */
#define SHUTDOWN_WAIT_S 60

int
cmd_start(vs_ctl *ctl, const vs_args *a)
{
    vs_run_info info;

    (void)a;
    /* virsh checks first, without the "Failed to start" line */
    if (vs_domain_run_info(ctl->dom, &info, &ctl->err) < 0)
        return -1;
    if (info.state != VS_RUN_SHUTOFF)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Domain is already active");
    if (vs_domain_start_saved(ctl->dom, vs_arg_bool(a, "paused"), vs_arg_bool(a, "force-boot"),
                              vs_arg_bool(a, "bypass-cache"), &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to start domain '%s'", ctl->dom->name);
        return -1;
    }
    vs_out_extra(ctl, "Domain '%s' started\n", ctl->dom->name);
    return 0;
}

static void
shutdown_requested(void *opaque)
{
    vs_ctl *ctl = opaque;

    vs_out_extra(ctl, "Domain '%s' is being shutdown\n", ctl->dom->name);
    fflush(ctl->out ? ctl->out : stdout);
}

int
cmd_shutdown(vs_ctl *ctl, const vs_args *a)
{
    const char *mode = vs_arg_str(a, "mode");
    int timeout = SHUTDOWN_WAIT_S, rc;

    if ((rc = vs_arg_int(a, "timeout", &timeout, &ctl->err)) < 0)
        return -1;
    if (rc == 1 && timeout < 0)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Invalid timeout");
    if (mode && strcmp(mode, "acpi") != 0) {
        if (strcmp(mode, "agent") && strcmp(mode, "initctl") && strcmp(mode, "signal") &&
            strcmp(mode, "paravirt"))
            return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Unknown mode %s value, expecting "
                                "'acpi', 'agent', 'initctl', 'signal', or 'paravirt'", mode);
        vs_print_error(ctl, "Failed to shutdown domain '%s'", ctl->dom->name);
        return vs_error_set(&ctl->err, VS_ERR_ARG_UNSUPPORTED,
                            "vsnap shuts domains down only with the ACPI power button "
                            "(--mode acpi)");
    }
    /* virsh prints this as soon as the request is made */
    if (vs_domain_shutdown(ctl->dom, timeout, shutdown_requested, ctl, &ctl->err) < 0) {
        if (ctl->err.code != VS_ERR_TIMEOUT)
            vs_print_error(ctl, "Failed to shutdown domain '%s'", ctl->dom->name);
        return -1;
    }
    return 0;
}

int
cmd_destroy(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    if (vs_domain_destroy(ctl->dom, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to destroy domain '%s'", ctl->dom->name);
        return -1;
    }
    vs_out_extra(ctl, "Domain '%s' destroyed\n", ctl->dom->name);
    return 0;
}

int
cmd_suspend(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    if (vs_domain_suspend(ctl->dom, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to suspend domain '%s'", ctl->dom->name);
        return -1;
    }
    vs_out_extra(ctl, "Domain '%s' suspended\n", ctl->dom->name);
    return 0;
}

int
cmd_resume(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    if (vs_domain_resume(ctl->dom, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to resume domain '%s'", ctl->dom->name);
        return -1;
    }
    vs_out_extra(ctl, "Domain '%s' resumed\n", ctl->dom->name);
    return 0;
}

/* The words of --cmd joined by blanks, as virsh does. Caller frees. */
static char *
joined(const vs_args *a)
{
    char *const *w = vs_arg_argv(a, "cmd");
    vs_buf b = VS_BUF_INIT;
    size_t i;

    for (i = 0; w && w[i]; i++) {
        if (i)
            vs_buf_addc(&b, ' ');
        vs_buf_add(&b, w[i]);
    }
    return vs_buf_steal(&b);
}

/* --return-value: the "return" member of a reply, as text. */
static int
return_value(vs_ctl *ctl, const char *reply, bool pretty, char **out)
{
    json_object *o = json_tokener_parse(reply), *r;
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);

    *out = NULL;
    if (!o || !json_object_object_get_ex(o, "return", &r)) {
        json_object_put(o);
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "'return' member missing from the reply: %s", reply);
    }
    if (json_object_is_type(r, json_type_string))
        *out = vs_xstrdup(json_object_get_string(r));
    else
        *out = vs_xstrdup(json_object_to_json_string_ext(r, flags));
    json_object_put(o);
    return 0;
}

int
cmd_qemu_monitor_command(vs_ctl *ctl, const vs_args *a)
{
    bool hmp = vs_arg_bool(a, "hmp"), pretty = vs_arg_bool(a, "pretty");
    bool retval = vs_arg_bool(a, "return-value");
    char *text = joined(a), *reply = NULL, *val = NULL;
    vs_qmp *q;
    int ret = -1;

    if (hmp && pretty) {
        free(text);
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Options --hmp and --pretty are mutually exclusive");
    }
    if (hmp && retval) {
        free(text);
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "Options --hmp and --return-value are mutually exclusive");
    }
    if (!(q = vs_domain_monitor(ctl->dom, NULL, &ctl->err))) {
        free(text);
        return -1;
    }
    if (hmp) {
        if (vs_qmp_hmp(q, text, &reply, &ctl->err) == 0) {
            vs_out(ctl, "%s\n", reply);
            ret = 0;
        }
    } else {
        /* a bare command name is sent as {"execute": NAME} */
        char *cmd = text;
        char *wrapped = NULL;

        while (*cmd == ' ')
            cmd++;
        if (*cmd && *cmd != '{' && !strpbrk(cmd, " \t")) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "execute", json_object_new_string(cmd));
            wrapped = vs_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            cmd = wrapped;
        }
        if (vs_qmp_command_text(q, cmd, pretty && !retval, &reply, &ctl->err) == 0) {
            if (!retval) {
                vs_out(ctl, "%s\n", reply);
                ret = 0;
            } else if (return_value(ctl, reply, pretty, &val) == 0) {
                vs_out(ctl, "%s\n", val);
                ret = 0;
            }
        }
        free(wrapped);
    }
    vs_qmp_free(q);
    free(text);
    free(reply);
    free(val);
    return ret;
}

int
cmd_qemu_agent_command(vs_ctl *ctl, const vs_args *a)
{
    bool async = vs_arg_bool(a, "async"), block = vs_arg_bool(a, "block");
    int timeout = 5, rc;
    char *text, *reply = NULL;
    vs_qmp *q;
    int ret = -1;

    if ((rc = vs_arg_int(a, "timeout", &timeout, &ctl->err)) < 0)
        return -1;
    if (rc == 1 && (async || block))
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Options --timeout and --%s are mutually exclusive",
                            async ? "async" : "block");
    if (async && block)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Options --async and --block are mutually exclusive");
    if (rc == 1 && timeout < 1)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "timeout must be positive");
    if (async)
        timeout = 10;   /* the answer is not awaited long */
    if (block)
        timeout = 24 * 3600;
    if (!(q = vs_domain_agent(ctl->dom, timeout * 1000, &ctl->err)))
        return -1;
    vs_qmp_set_limits(q, timeout * 1000, 0);
    text = joined(a);
    if (vs_qmp_command_text(q, text, vs_arg_bool(a, "pretty"), &reply, &ctl->err) == 0) {
        vs_out(ctl, "%s\n", reply);
        ret = 0;
    } else if (ctl->err.code == VS_ERR_TIMEOUT) {
        vs_error_set(&ctl->err, VS_ERR_AGENT_UNRESPONSIVE, "Guest agent not available for now");
    }
    vs_qmp_free(q);
    free(text);
    free(reply);
    return ret;
}
