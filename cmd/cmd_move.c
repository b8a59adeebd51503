/* snapshot-export and snapshot-import: a domain and its snapshot tree moved
 * between stores as one document (lib/snapshot_export.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "path.h"
#include "snapshot_export.h"

int
cmd_snapshot_export(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    vs_buf b = VS_BUF_INIT;
    size_t n = 0;
    int ret = -1;

    if (vs_snapshot_export(ctl->dom, &b, &n, &ctl->err) < 0)
        goto out;
    vs_cmd_done_reading(ctl);
    if (strcmp(file, "-") == 0) {
        fflush(ctl->out);
        if (fwrite(b.data, 1, b.len, ctl->out) != b.len || fflush(ctl->out) != 0) {
            vs_error_set(&ctl->err, VS_ERR_PLAIN, "cannot write the export to standard output");
            goto out;
        }
    } else {
        /* 0600: the definition is written with its security information */
        if (vs_file_write_atomic(file, b.data, b.len, 0600, &ctl->err) < 0)
            goto out;
        vs_out_extra(ctl, "Domain '%s' exported to %s (%zu snapshots)\n", ctl->dom->name, file,
                     n);
    }
    ret = 0;
 out:
    vs_buf_reset(&b);
    return ret;
}

int
cmd_snapshot_import(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    bool from_stdin = strcmp(file, "-") == 0;
    const char *shown = from_stdin ? "(standard input)" : file;
    vs_export_doc doc;
    vs_import_result res;
    char *data = NULL;
    size_t len = 0;
    int ret = -1;

    memset(&doc, 0, sizeof(doc));
    if ((from_stdin ? vs_fd_read(STDIN_FILENO, shown, VS_EXPORT_MAX_SIZE, &data, &len, &ctl->err)
                    : vs_file_read(file, VS_EXPORT_MAX_SIZE, &data, &len, &ctl->err)) < 0)
        return -1;
    if (vs_export_doc_read(data, len, shown, &doc, &ctl->err) < 0)
        goto out;
    free(data);
    data = NULL;
    if (vs_snapshot_import(ctl->store, &doc, vs_arg_bool(a, "replace") ? VS_IMPORT_REPLACE : 0,
                           &res, &ctl->err) < 0) {
        if (vs_cmd_skip_busy(ctl, "snapshot-import", &ctl->err))
            ret = 0;
        goto out;
    }
    if (res.unchanged)
        vs_out_extra(ctl, "Domain '%s' imported from %s (%zu snapshots, %zu of them already "
                     "there)\n", doc.dom->name, shown, res.written + res.unchanged,
                     res.unchanged);
    else
        vs_out_extra(ctl, "Domain '%s' imported from %s (%zu snapshots)\n", doc.dom->name, shown,
                     res.written);
    ret = 0;
 out:
    free(data);
    vs_export_doc_clear(&doc);
    return ret;
}
