/* snapshot-create-as --print-xml documents and the comma splitter (virsh-behaviour.md A.2);
 * cross-checked against virsh 9.0's transcript and libvirt's snapshot-create-args
 * test when ../shared/reference is there (tests/golden runs the same transcript
 * through the CLI from its in-tree expectations either way). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "testenv.h"
#include "mem.h"
#include "buf.h"
#include "path.h"
#include "snapshot_def.h"

static char *ref_dir;

static char *
read_ref(const char *rel)
{
    char *path, *data = NULL;
    vs_error err;

    if (!ref_dir)
        return NULL;
    path = vs_xasprintf("%s/%s", ref_dir, rel);
    if (vs_file_read(path, 1 << 20, &data, NULL, &err) < 0) {
        ok(0, "cross-check file %s readable: %s", rel, err.msg);
        data = NULL;
    }
    free(path);
    return data;
}

/* Build the document; on failure return what virsh prints on stderr. */
static char *
build(const char *name, const char *desc, const char *mem, char *const *disks, bool *failed)
{
    vs_buf out = VS_BUF_INIT;
    char *warn = NULL;
    vs_error err;

    if (vs_snapshot_args_to_xml(name, desc, mem, disks, &out, &warn, &err) < 0) {
        char *s = vs_xasprintf("%s%s%serror: %s\n", warn ? "error: " : "", warn ? warn : "",
                               warn ? "\n" : "", err.msg);

        *failed = true;
        free(warn);
        vs_buf_reset(&out);
        return s;
    }
    *failed = false;
    free(warn);
    return vs_buf_steal(&out);
}

/* ------------------------------------------------------------------ */
/* 03-print-xml.txt: virsh 9.0.0, one section per command */

typedef struct px_case {
    int section;
    const char *name, *desc, *mem;
    const char *disks[3];
} px_case;

#define IMG "/var/lib/libvirt/images/snap/"

static const px_case px_cases[] = {
    { 1, NULL, NULL, NULL, { NULL } },
    { 2, "px", NULL, NULL, { NULL } },
    { 3, "px", "a description", NULL, { NULL } },
    { 4, "px", "<xml & special \"chars\">", NULL, { NULL } },
    { 5, "px", NULL, NULL, { NULL } },
    { 6, "px", NULL, NULL, { NULL } },
    { 7, "px", NULL, NULL, { "vda", NULL } },
    { 8, "px", NULL, NULL, { "vda,snapshot=internal", NULL } },
    { 9, "px", NULL, NULL, { "vda,snapshot=no", NULL } },
    { 10, "px", NULL, NULL, { "vda,snapshot=manual", NULL } },
    { 11, "px", NULL, NULL, { "vda,snapshot=external,file=" IMG "px.qcow2", NULL } },
    { 12, "px", NULL, NULL, { "vda,snapshot=external,driver=qcow2,file=" IMG "px.qcow2", NULL } },
    { 13, "px", NULL, NULL, { "vda,snapshot=external,driver=qcow2,stype=block,file=/dev/vg0/px", NULL } },
    { 14, "px", NULL, NULL, { "vda,file=" IMG "with,,comma.qcow2", NULL } },
    { 15, "px", "vda,snapshot=external,file=" IMG "positional.qcow2", NULL, { NULL } },
    { 16, "px", NULL, NULL, { "vda,snapshot=external,file=" IMG "a.qcow2", "vdb,snapshot=no", NULL } },
    { 17, "px", NULL, IMG "px.mem", { NULL } },
    { 18, "px", NULL, "file=" IMG "px.mem", { NULL } },
    { 19, "px", NULL, "file=" IMG "px.mem,snapshot=external", { NULL } },
    { 20, "px", NULL, "snapshot=internal", { NULL } },
    { 21, "px", NULL, "snapshot=no", { NULL } },
    { 22, "px", NULL, "snapshot=manual", { NULL } },
    { 23, "px", NULL, "file=" IMG "px.mem,snapshot=external",
      { "vda,snapshot=external,driver=qcow2,file=" IMG "px.qcow2", NULL } },
    { 24, "px", NULL, "bogus=1", { NULL } },
    { 25, "px", NULL, "snapshot=bogus", { NULL } },
    { 26, "px", NULL, "file=", { NULL } },
    { 27, "px", NULL, "file=/a.mem,file=/b.mem", { NULL } },
    { 29, "px", NULL, NULL, { "vda,bogus=1", NULL } },
    { 30, "px", NULL, NULL, { "vda,snapshot=bogus", NULL } },
    { 31, "px", NULL, NULL, { "", NULL } },
    { 32, "px", NULL, NULL, { ",snapshot=external", NULL } },
};

/* The text between `start` and `end` inside section N of the transcript (caller frees). */
static char *
section_part(const char *transcript, int n, const char *start, const char *end)
{
    char *head = vs_xasprintf("==> [%d] ", n);
    const char *p = strstr(transcript, head), *q;

    free(head);
    if (!p || !(p = strstr(p, start)))
        return NULL;
    p += strlen(start);
    if (!(q = strstr(p, end)))
        return NULL;
    return vs_xstrndup(p, (size_t)(q - p));
}

static void
run_print_xml(void)
{
    char *tr = read_ref("virsh-transcripts/03-print-xml.txt");
    size_t i;

    for (i = 0; i < sizeof(px_cases) / sizeof(px_cases[0]); i++) {
        const px_case *c = &px_cases[i];
        char *out, *err, *got, *want;
        bool failed;

        if (!tr)
            break;
        out = section_part(tr, c->section, "--- stdout ---\n", "--- stderr ---\n");
        err = section_part(tr, c->section, "--- stderr ---\n", "--- status:");
        got = build(c->name, c->desc, c->mem, (char *const *)c->disks, &failed);
        if (!out || !err) {
            ok(0, "03-print-xml [%d]: section found", c->section);
        } else if (failed) {
            /* virsh: nothing but its per-command newline on stdout */
            ok(strcmp(out, "\n") == 0, "03-print-xml [%d]: virsh failed too", c->section);
            is_str(got, err, "03-print-xml [%d]: stderr", c->section);
        } else {
            /* virsh: document, --print-xml's newline, the per-command newline */
            want = vs_xasprintf("%s\n\n", got);
            ok(strcmp(err, "") == 0, "03-print-xml [%d]: virsh succeeded too", c->section);
            is_str(want, out, "03-print-xml [%d]: stdout", c->section);
            free(want);
        }
        free(got);
        free(out);
        free(err);
    }
    free(tr);
}

/* ------------------------------------------------------------------ */
/* libvirt's virshtestdata/snapshot-create-args.{in,out} (run with -q) */

typedef struct args_case {
    const char *name, *desc, *mem;
    const char *disks[3];
} args_case;

static const args_case args_cases[] = {
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "desc", NULL, { "vda", "vdb", NULL } },
    { "name", "vda", NULL, { "vdb", NULL } },
    { NULL, "1<2", "file=d,,e", { "vda,file=a&b,,c,snapshot=external", "vdb", NULL } },
};

static void
run_create_args(void)
{
    char *want = read_ref("libvirt/tests/virshtestdata/snapshot-create-args.out");
    vs_buf all = VS_BUF_INIT;
    size_t i;
    bool failed, any_failed = false;

    for (i = 0; i < sizeof(args_cases) / sizeof(args_cases[0]); i++) {
        const args_case *c = &args_cases[i];
        char *doc = build(c->name, c->desc, c->mem, (char *const *)c->disks, &failed);

        any_failed |= failed;
        vs_buf_add(&all, doc);
        vs_buf_addc(&all, '\n');   /* --print-xml's own newline; -q drops virsh's */
        free(doc);
    }
    ok(!any_failed, "snapshot-create-args: every case builds");
    if (ref_dir && want)
        is_str(vs_buf_str(&all), want, "cross-check: snapshot-create-args.out reproduced byte for byte");
    vs_buf_reset(&all);
    free(want);
}

/* ------------------------------------------------------------------ */
/* Cases the transcripts do not cover */

static void
check_doc(const char *mem, const char *disk, const char *want_body, const char *label)
{
    const char *disks[] = { disk, NULL };
    bool failed;
    char *got = build("n", NULL, mem, disk ? (char *const *)disks : NULL, &failed);
    char *want = vs_xasprintf("<domainsnapshot>\n  <name>n</name>\n%s</domainsnapshot>\n", want_body);

    is_str(got, want, "%s", label);
    free(got);
    free(want);
}

static void
run_extra(void)
{
    bool failed;
    const char *disks[] = { "vda,stype=bogus", NULL };
    char *got;

    check_doc(NULL, "vda,snapshot=external,file=/path/to,,new",
              "  <disks>\n    <disk name='vda' snapshot='external'>\n"
              "      <source file='/path/to,new'/>\n    </disk>\n  </disks>\n",
              "man page diskspec example");
    check_doc(NULL, "vda,stype=file,file=/f",
              "  <disks>\n    <disk name='vda' type='file'>\n      <source file='/f'/>\n"
              "    </disk>\n  </disks>\n", "stype=file");
    check_doc(NULL, "vda,driver=qcow2",
              "  <disks>\n    <disk name='vda'>\n      <driver type='qcow2'/>\n    </disk>\n  </disks>\n",
              "driver alone opens the element");
    /* beyond virsh: stype=network, file= the image's URL */
    check_doc(NULL, "vda,snapshot=external,stype=network,file=nbd+unix:///ov1?socket=/run/n.sock",
              "  <disks>\n    <disk name='vda' snapshot='external' type='network'>\n"
              "      <source protocol='nbd' name='ov1'>\n"
              "        <host transport='unix' socket='/run/n.sock'/>\n      </source>\n"
              "    </disk>\n  </disks>\n", "stype=network: an NBD URL");
    check_doc(NULL, "vda,stype=network,driver=qcow2,file=gluster://g1/vol/dir/a.s1",
              "  <disks>\n    <disk name='vda' type='network'>\n      <driver type='qcow2'/>\n"
              "      <source protocol='gluster' name='vol/dir/a.s1'>\n"
              "        <host name='g1'/>\n      </source>\n"
              "    </disk>\n  </disks>\n", "stype=network: a gluster URL");
    {
        const char *bad[] = { "vda,stype=network,file=/not/a/url", NULL };

        got = build("n", NULL, NULL, (char *const *)bad, &failed);
        ok(failed && strstr(got, "cannot read the network image URL '/not/a/url'") != NULL,
           "stype=network with a path: one error naming the URL forms");
        free(got);
    }
    check_doc(NULL, "<a'>,file=/x&y",
              "  <disks>\n    <disk name='&lt;a&apos;&gt;'>\n      <source file='/x&amp;y'/>\n"
              "    </disk>\n  </disks>\n", "disk name and file are escaped");
    check_doc(NULL, "vda,snapshot=a'b",
              "  <disks>\n    <disk name='vda' snapshot='a'b'/>\n  </disks>\n",
              "diskspec snapshot= is copied unescaped (virsh quirk)");
    check_doc("snapshot=a'b,file=/m&", NULL, "  <memory snapshot='a&apos;b' file='/m&amp;'/>\n",
              "memspec values are escaped");
    check_doc("/a,,b", NULL, "  <memory file='/a,b'/>\n", "memspec path with a doubled comma");

    got = build("n", NULL, NULL, (char *const *)disks, &failed);
    is_str(got, "error: Unknown storage type: 'bogus'\nerror: unable to parse diskspec: vda,stype=bogus\n",
           "unknown stype: two error lines");
    free(got);
    {
        const char *d2[] = { "vda", "vdb,snapshot=x,snapshot=y", NULL };

        got = build("n", NULL, NULL, (char *const *)d2, &failed);
        is_str(got, "error: unable to parse diskspec: vdb,snapshot=x,snapshot=y\n", "repeated key refused");
        free(got);
    }
    /* Names are checked before the XML is built: escaping would drop the
     * control characters and the parser would turn CR into LF. */
    got = build("a\001b", NULL, NULL, NULL, &failed);
    is_str(got, "error: invalid snapshot name 'a\\x01b': name can't contain control characters\n",
           "a control character in the name is refused, not dropped");
    free(got);
    got = build("\001\002", NULL, NULL, NULL, &failed);
    is_str(got, "error: invalid snapshot name '\\x01\\x02': name can't contain control characters\n",
           "a name of control characters does not become an empty name");
    free(got);
    got = build("a\rb", NULL, NULL, NULL, &failed);
    is_str(got, "error: invalid snapshot name 'a\\x0db': name can't contain control characters\n",
           "CR is reported as \\x0d");
    free(got);
    got = build("a/b", NULL, NULL, NULL, &failed);
    is_str(got, "error: invalid snapshot name 'a/b': name can't contain '/'\n",
           "every name rule applies");
    free(got);
    {
        vs_buf out = VS_BUF_INIT;
        vs_error err;

        vs_buf_add(&out, "keep");
        ok(vs_snapshot_args_to_xml("n", NULL, "x", NULL, &out, NULL, &err) < 0 &&
           strcmp(vs_buf_str(&out), "keep") == 0, "out untouched on failure, warn may be NULL");
        vs_buf_reset(&out);
    }
}

static void
check_split(const char *in, const char *const *want, const char *label)
{
    char **got = vs_split_commas(in);
    size_t i;
    bool same = true;

    for (i = 0; want[i] || got[i]; i++)
        if (!want[i] || !got[i] || strcmp(want[i], got[i]) != 0) {
            same = false;
            break;
        }
    ok(same, "split '%s': %s", in, label);
    if (!same)
        for (i = 0; got[i]; i++)
            printf("#   got[%zu] = [%s]\n", i, got[i]);
    vs_strv_free(got);
}

static void
run_split(void)
{
    static const char *const w1[] = { "a", "b", NULL };
    static const char *const w2[] = { "a,b", NULL };
    static const char *const w3[] = { "file=d,e", NULL };
    static const char *const w4[] = { "a", "", NULL };
    static const char *const w5[] = { "a,", "b", NULL };
    static const char *const w6[] = { NULL };
    static const char *const w7[] = { "", "snapshot=x", NULL };
    static const char *const w8[] = { "a,,b", NULL };
    static const char *const w9[] = { "a,", NULL };
    static const char *const w10[] = { ",a", NULL };

    check_split("a,b", w1, "plain");
    check_split("a,,b", w2, "doubled comma is literal");
    check_split("file=d,,e", w3, "inside a value");
    check_split("a,", w4, "trailing comma gives an empty field");
    check_split("a,,,b", w5, "three commas");
    check_split("", w6, "empty string has no fields");
    check_split(",snapshot=x", w7, "leading comma gives an empty first field");
    check_split("a,,,,b", w8, "four commas");
    check_split("a,,", w9, "trailing doubled comma");
    check_split(",,a", w10, "leading doubled comma");
}

int
main(void)
{
    ref_dir = vs_xstrdup(testenv_reference());
    if (ref_dir)
        run_print_xml();
    run_create_args();
    run_extra();
    run_split();
    if (!ref_dir)
        testenv_skip_cross_checks();
    free(ref_dir);
    return tap_done();
}
