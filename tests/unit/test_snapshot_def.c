/* <domainsnapshot> parse/format: the project's corpus (tests/corpus/snapshot,
 * virsh-behaviour.md B.1, B.2), schema validity of every output, every B.2
 * message; and, as cross-checks when ../shared/reference is there, libvirt's
 * own XML corpus (D.1) and schema tests (D.2). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "testenv.h"
#include "corpus.h"
#include "mem.h"
#include "buf.h"
#include "path.h"
#include "xml.h"
#include "snapshot_def.h"

static char *ref_dir;   /* $VSNAP_REFERENCE (cross-checks), else NULL */
static char *rng;       /* $VSNAP_SCHEMAS/domainsnapshot.rng, else NULL */

static void
skip(const char *why)
{
    printf("ok %d # SKIP %s\n", ++tap_n, why);
}

static char *
read_ref(const char *rel, size_t *len)
{
    char *path = vs_xasprintf("%s/%s", ref_dir, rel), *data = NULL;
    vs_error err;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, len, &err) < 0) {
        printf("# %s\n", err.msg);
        data = NULL;
    }
    free(path);
    return data;
}

/* Elements of libvirt's snapshot XML that older schemas do not know yet
 * (Debian 12's libvirt 9.0 has neither); known[i] says whether rng has it. */
static const char *const newer_elements[] = { "revertDisks", "snapshotDeleteInProgress" };
static bool known[2];

static void
drop_elements(xmlNodePtr n, const char *name)
{
    xmlNodePtr c, next;

    for (c = n->children; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            drop_elements(c, name);
        }
    }
}

/* Parse `xml` with the snapshot schema; NULL on success, else the message.
 * Elements the schema is too old to know are left out first, so that
 * everything else is still checked. */
static char *
schema_check(const char *xml)
{
    vs_error err;
    xmlDocPtr doc = vs_xml_parse(xml, strlen(xml), "(output)", &err);
    size_t i;

    if (!doc)
        return vs_xstrdup(err.msg);
    for (i = 0; i < sizeof(newer_elements) / sizeof(newer_elements[0]); i++)
        if (!known[i])
            drop_elements(xmlDocGetRootElement(doc), newer_elements[i]);
    if (vs_xml_validate(doc, rng, &err) < 0) {
        xmlFreeDoc(doc);
        return vs_xstrdup(err.msg);
    }
    xmlFreeDoc(doc);
    return NULL;
}

/* The output validates (or, with !valid, is refused). Without schemas there
 * is nothing to check: main reports one skip for all. */
static void
ok_schema(const char *xml, const char *label, bool valid)
{
    char *why;

    if (!rng)
        return;
    why = schema_check(xml);
    if (valid)
        ok(why == NULL, "%s: output validates against domainsnapshot.rng", label);
    else
        ok(why != NULL, "%s: domainsnapshot.rng refuses the output", label);
    if (why && valid)
        printf("#   %s\n", why);
    free(why);
}

static void
ok_valid(const char *xml, const char *label)
{
    ok_schema(xml, label, true);
}

/* ------------------------------------------------------------------ */
/* D.1 corpus */

enum kind { OUT_OUT, IN_OUT, IN_IN };

typedef struct libvirt_case {
    const char *file;
    enum kind kind;
    bool internal;
    long long now;          /* mocked creation time (IN_OUT) */
    const char *uuid;       /* legacy stub uuid when the snapshot has no domain */
    bool force_running;
} libvirt_case;

#define U9D "9d37b878-a7cc-9f9a-b78f-49b3abad25a8"
#define UC7 "c7a5fdbd-edaf-9455-926a-d65c16db1809"

static const libvirt_case libvirt_corpus[] = {
    { "all_parameters", OUT_OUT, true, 0, U9D, false },
    { "disk_snapshot_redefine", OUT_OUT, true, 0, UC7, false },
    { "full_domain", OUT_OUT, true, 0, UC7, false },
    { "noparent_nodescription_noactive", OUT_OUT, false, 0, NULL, false },
    { "noparent_nodescription", OUT_OUT, true, 0, NULL, false },
    { "noparent", OUT_OUT, false, 0, U9D, false },
    { "metadata", OUT_OUT, false, 0, UC7, false },
    { "external_vm_redefine", OUT_OUT, false, 0, UC7, false },
    { "memory-snapshot-inactivedomain", OUT_OUT, false, 0, "14beef2c-8cae-4ea8-bf55-e48fe0cd4b73", false },
    { "empty", IN_OUT, false, 1386166249, U9D, false },
    { "noparent", IN_OUT, false, 1272917631, U9D, true },
    { "external_vm", IN_OUT, false, 1555419243, NULL, false },
    { "disk_snapshot", IN_OUT, false, 1555419243, NULL, false },
    { "disk_driver_name_null", IN_OUT, false, 1555419243, NULL, false },
    { "disk-seclabel", IN_OUT, false, 581484660, U9D, false },
    { "qcow2-metadata-cache", IN_OUT, false, 1386166249, U9D, false },
    { "name_and_description", IN_IN, false, 0, NULL, false },
    { "description_only", IN_IN, false, 0, NULL, false },
    { "name_only", IN_IN, false, 0, NULL, false },
};

#define CORPUS_TESTS 4   /* per case: parse, output, copy, schema */

static void
run_libvirt_case(const libvirt_case *c)
{
    const char *indir = c->kind == OUT_OUT ? "qemudomainsnapshotxml2xmlout" : "qemudomainsnapshotxml2xmlin";
    const char *outdir = c->kind == IN_IN ? "qemudomainsnapshotxml2xmlin" : "qemudomainsnapshotxml2xmlout";
    char *inrel = vs_xasprintf("libvirt/tests/%s/%s.xml", indir, c->file);
    char *outrel = vs_xasprintf("libvirt/tests/%s/%s.xml", outdir, c->file);
    char *in, *want, *got = NULL, *got2;
    size_t inlen, wantlen;
    unsigned pflags = 0, fflags = VS_SNAP_FORMAT_SECURE;
    vs_snapshot_def *def, *copy;
    vs_error err;
    int i;

    in = read_ref(inrel, &inlen);
    want = read_ref(outrel, &wantlen);
    if (!in || !want) {
        ok(0, "%s: libvirt corpus files %s and %s readable", c->file, inrel, outrel);
        goto out;
    }
    if (c->kind == OUT_OUT)
        pflags |= VS_SNAP_PARSE_REDEFINE;
    if (c->internal) {
        pflags |= VS_SNAP_PARSE_INTERNAL;
        fflags |= VS_SNAP_FORMAT_INTERNAL;
    }
    def = vs_snapshot_def_parse(in, inlen, "(domain_snapshot)", pflags, c->now, &err);
    ok(def != NULL, "%s (%s): parses", c->file, c->kind == OUT_OUT ? "out->out" :
       c->kind == IN_OUT ? "in->out" : "in->in");
    if (!def) {
        printf("#   %s\n", err.msg);
        for (i = 1; i < CORPUS_TESTS; i++)
            skip("did not parse");
        goto out;
    }
    if (c->uuid && !def->dom && !def->dom_uuid)
        def->dom_uuid = vs_xstrdup(c->uuid);
    if (c->force_running)
        def->state = VS_STATE_RUNNING;
    got = vs_snapshot_def_format_str(def, fflags);
    is_str(got, want, "%s: formats byte for byte as %s", c->file, outrel);

    copy = vs_snapshot_def_copy(def);
    vs_snapshot_def_free(def);
    got2 = vs_snapshot_def_format_str(copy, fflags);
    is_str(got2, got, "%s: a copy formats the same", c->file);
    vs_snapshot_def_free(copy);
    free(got2);

    ok_valid(got, c->file);
out:
    free(got);
    free(in);
    free(want);
    free(inrel);
    free(outrel);
}

/* virsh's own redefine fixtures: dumped XML must come back unchanged. */
static void
run_virsh_fixture(const char *file)
{
    char *rel = vs_xasprintf("libvirt/tests/virshtestdata/%s", file);
    char *in, *got;
    size_t len;
    vs_snapshot_def *def;
    vs_error err;

    if (!(in = read_ref(rel, &len))) {
        ok(0, "%s: virsh fixture readable", rel);
        free(rel);
        return;
    }
    def = vs_snapshot_def_parse(in, len, "(domain_snapshot)", VS_SNAP_PARSE_REDEFINE, 0, &err);
    if (!def) {
        ok(0, "%s: parses with REDEFINE (%s)", file, err.msg);
        skip("did not parse");
    } else {
        got = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        is_str(got, in, "%s: round-trips", file);
        ok_valid(got, file);
        free(got);
        vs_snapshot_def_free(def);
    }
    free(in);
    free(rel);
}

/* D.2: the two -invalid inputs fail VALIDATE, every other input passes it. */
static void
run_schema_inputs(void)
{
    static const char *const files[] = {
        "description_only", "disk-seclabel", "disk_driver_name_null", "disk_snapshot", "empty",
        "external_vm", "name_and_description", "name_only", "noparent", "qcow2-metadata-cache",
    };
    static const char *const invalid[] = { "disk-invalid", "disk-network-seclabel-invalid" };
    size_t i, len;
    vs_error err;

    for (i = 0; i < sizeof(files) / sizeof(files[0]) + 2; i++) {
        bool bad = i >= sizeof(files) / sizeof(files[0]);
        const char *f = bad ? invalid[i - sizeof(files) / sizeof(files[0])] : files[i];
        char *rel = vs_xasprintf("libvirt/tests/qemudomainsnapshotxml2xmlin/%s.xml", f);
        char *in = read_ref(rel, &len);
        vs_snapshot_def *def;

        if (!in) {
            ok(0, "%s: libvirt corpus file readable", rel);
            free(rel);
            continue;
        }
        def = vs_snapshot_def_parse(in, len, "(domain_snapshot)", VS_SNAP_PARSE_VALIDATE, 1, &err);
        if (bad)
            ok(!def && err.code == VS_ERR_SCHEMA &&
               strncmp(err.msg, "XML document failed to validate against schema: Unable to validate doc against ",
                       strlen("XML document failed to validate against schema: Unable to validate doc against ")) == 0,
               "VALIDATE refuses %s", f);
        else
            ok(def != NULL, "VALIDATE accepts %s%s%s", f, def ? "" : ": ", def ? "" : err.msg);
        vs_snapshot_def_free(def);
        free(in);
        free(rel);
    }
}

/* ------------------------------------------------------------------ */
/* B.2 messages */

typedef struct err_case {
    const char *label;
    unsigned flags;
    const char *xml;
    const char *msg;
} err_case;

#define RD VS_SNAP_PARSE_REDEFINE
#define HEAD "<domainsnapshot><name>s</name><creationTime>5</creationTime><state>running</state>"

static const err_case err_cases[] = {
    { "wrong root", 0, "<snapshot/>",
      "XML error: expecting root element of 'domainsnapshot', not 'snapshot'" },
    { "redefine without name", RD, "<domainsnapshot/>",
      "XML error: a redefined snapshot must have a name" },
    { "redefine with empty name", RD, "<domainsnapshot><name></name></domainsnapshot>",
      "XML error: a redefined snapshot must have a name" },
    { "redefine without creationTime", RD, "<domainsnapshot><name>a</name><state>running</state></domainsnapshot>",
      "internal error: missing creationTime from existing snapshot" },
    { "redefine with bad creationTime", RD,
      "<domainsnapshot><name>a</name><creationTime>12x</creationTime></domainsnapshot>",
      "internal error: missing creationTime from existing snapshot" },
    { "redefine without state", RD, "<domainsnapshot><name>a</name><creationTime>1</creationTime></domainsnapshot>",
      "XML error: missing state from existing snapshot" },
    { "unknown state", RD,
      "<domainsnapshot><name>a</name><creationTime>1</creationTime><state>bogus</state></domainsnapshot>",
      "unsupported configuration: Invalid state 'bogus' in domain snapshot XML" },
    { "nostate", RD,
      "<domainsnapshot><name>a</name><creationTime>1</creationTime><state>nostate</state></domainsnapshot>",
      "unsupported configuration: Invalid state 'nostate' in domain snapshot XML" },
    { "memory bogus", 0, "<domainsnapshot><memory snapshot='bogus'/></domainsnapshot>",
      "XML error: Invalid value for attribute 'snapshot' in element 'memory': 'bogus'." },
    { "memory default", 0, "<domainsnapshot><memory snapshot='default'/></domainsnapshot>",
      "XML error: Invalid value for attribute 'snapshot' in element 'memory': 'default'." },
    { "memory manual", 0, "<domainsnapshot><memory snapshot='manual'/></domainsnapshot>",
      "XML error: 'manual' memory snapshot mode not supported" },
    { "memory file not external", 0,
      "<domainsnapshot><memory snapshot='internal' file='/x.mem'/></domainsnapshot>",
      "XML error: memory filename '/x.mem' requires external snapshot" },
    { "memory external without file", 0, "<domainsnapshot><memory snapshot='external'/></domainsnapshot>",
      "XML error: external memory snapshots require a filename" },
    { "memory with OFFLINE", VS_SNAP_PARSE_OFFLINE,
      "<domainsnapshot><memory snapshot='internal'/></domainsnapshot>",
      "XML error: memory state cannot be saved with offline or disk-only snapshot" },
    { "memory in a shutoff redefine", RD,
      "<domainsnapshot><name>a</name><creationTime>1</creationTime><state>shutoff</state>"
      "<memory snapshot='external' file='/m'/></domainsnapshot>",
      "XML error: memory state cannot be saved with offline or disk-only snapshot" },
    { "memory relative file", 0, "<domainsnapshot><memory file='rel.mem'/></domainsnapshot>",
      "XML error: memory snapshot file path (rel.mem) must be absolute" },
    { "memory empty file", 0, "<domainsnapshot><memory file=''/></domainsnapshot>",
      "XML error: memory snapshot file path () must be absolute" },
    { "disk without name", 0, "<domainsnapshot><disks><disk snapshot='no'/></disks></domainsnapshot>",
      "internal error: missing name from disk snapshot element" },
    { "disk bogus location", 0, "<domainsnapshot><disks><disk name='vda' snapshot='bogus'/></disks></domainsnapshot>",
      "XML error: Invalid value for attribute 'snapshot' in element 'disk': 'bogus'." },
    { "disk default location", 0, "<domainsnapshot><disks><disk name='vda' snapshot='default'/></disks></domainsnapshot>",
      "XML error: Invalid value for attribute 'snapshot' in element 'disk': 'default'." },
    { "disk type dir", 0, "<domainsnapshot><disks><disk name='vda' type='dir'/></disks></domainsnapshot>",
      "XML error: unsupported disk snapshot type 'dir'" },
    { "disk type volume", 0, "<domainsnapshot><disks><disk name='vda' type='volume'/></disks></domainsnapshot>",
      "XML error: unsupported disk snapshot type 'volume'" },
    { "disk type bogus", 0, "<domainsnapshot><disks><disk name='vda' type='bogus'/></disks></domainsnapshot>",
      "XML error: Invalid value for attribute 'type' in element 'disk': 'bogus'." },
    { "disk type none", 0, "<domainsnapshot><disks><disk name='vda' type='none'/></disks></domainsnapshot>",
      "XML error: Invalid value for attribute 'type' in element 'disk': 'none'." },
    { "network source without protocol", 0,
      "<domainsnapshot><disks><disk name='vda' type='network'><source name='x'/></disk></disks></domainsnapshot>",
      "XML error: missing network source protocol type" },
    { "disk unknown driver", 0,
      "<domainsnapshot><disks><disk name='vda'><driver type='bogus'/></disk></disks></domainsnapshot>",
      "unsupported configuration: unknown disk snapshot driver 'bogus'" },
    { "disk driver none", 0,
      "<domainsnapshot><disks><disk name='vda'><driver type='none'/></disk></disks></domainsnapshot>",
      "unsupported configuration: unknown disk snapshot driver 'none'" },
    { "disk relative file", 0,
      "<domainsnapshot><disks><disk name='vda'><source file='rel.qcow2'/></disk></disks></domainsnapshot>",
      "XML error: disk snapshot image path 'rel.qcow2' must be absolute" },
    { "disk relative dev", 0,
      "<domainsnapshot><disks><disk name='vda' type='block'><source dev='sdb'/></disk></disks></domainsnapshot>",
      "XML error: disk snapshot image path 'sdb' must be absolute" },
    { "revertDisks are checked on redefine", RD,
      HEAD "<revertDisks><disk name='vda' snapshot='bogus'/></revertDisks></domainsnapshot>",
      "XML error: Invalid value for attribute 'snapshot' in element 'disk': 'bogus'." },
    { "metadata cache bad unit", 0,
      "<domainsnapshot><disks><disk name='vda'><driver type='qcow2'><metadata_cache>"
      "<max_size unit='xyz'>1</max_size></metadata_cache></driver></disk></disks></domainsnapshot>",
      "invalid argument: unknown suffix 'xyz'" },
    { "INTERNAL without active", VS_SNAP_PARSE_INTERNAL | RD, HEAD "</domainsnapshot>",
      "internal error: Could not find 'active' element" },
    { "INTERNAL with bad active", VS_SNAP_PARSE_INTERNAL | RD, HEAD "<active>x</active></domainsnapshot>",
      "internal error: Could not find 'active' element" },
    { "not XML", 0, "this is not XML at all\n",
      "(domain_snapshot):1: Start tag expected, '<' not found" },
};

static void
run_error_cases(void)
{
    size_t i;

    for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const err_case *c = &err_cases[i];
        vs_error err;
        vs_snapshot_def *def;

        vs_error_clear(&err);
        def = vs_snapshot_def_parse(c->xml, strlen(c->xml), "(domain_snapshot)", c->flags, 77, &err);
        ok(def == NULL, "error: %s: refused", c->label);
        is_str(err.msg, c->msg, "error: %s: message", c->label);
        vs_snapshot_def_free(def);
    }
}

/* ------------------------------------------------------------------ */
/* Behaviour */

static vs_snapshot_def *
parse_ok(const char *xml, unsigned flags, long long now, const char *label)
{
    vs_error err;
    vs_snapshot_def *def = vs_snapshot_def_parse(xml, strlen(xml), "(domain_snapshot)", flags, now, &err);

    ok(def != NULL, "%s: parses", label);
    if (!def)
        printf("#   %s\n", err.msg);
    return def;
}

static void
check_format(const char *xml, unsigned pflags, long long now, unsigned fflags, const char *want,
             const char *label)
{
    vs_snapshot_def *def = parse_ok(xml, pflags, now, label);
    char *got;

    if (!def) {
        skip("did not parse");
        skip("did not parse");
        return;
    }
    got = vs_snapshot_def_format_str(def, fflags);
    is_str(got, want, "%s: output", label);
    ok_valid(got, label);
    free(got);
    vs_snapshot_def_free(def);
}

static void
run_behaviour(void)
{
    vs_snapshot_def *def, *c;
    char *got;

    /* Without REDEFINE the read-only fields are ignored and the time decides. */
    check_format("<domainsnapshot><state>running</state><parent><name>p</name></parent>"
                 "<creationTime>3</creationTime><domain><uuid>" U9D "</uuid></domain>"
                 "<revertDisks><disk name='vda'/></revertDisks></domainsnapshot>",
                 0, 1700000000, VS_SNAP_FORMAT_SECURE,
                 "<domainsnapshot>\n  <name>1700000000</name>\n  <creationTime>1700000000</creationTime>\n"
                 "</domainsnapshot>\n", "create ignores read-only fields");

    /* A memory file alone means external; REDEFINE fills in the location. */
    check_format("<domainsnapshot><name>a</name><memory file='/m.mem'/></domainsnapshot>", 0, 9,
                 VS_SNAP_FORMAT_SECURE,
                 "<domainsnapshot>\n  <name>a</name>\n  <creationTime>9</creationTime>\n"
                 "  <memory snapshot='external' file='/m.mem'/>\n</domainsnapshot>\n",
                 "memory file implies external");
    check_format(HEAD "</domainsnapshot>", RD, 0, 0,
                 "<domainsnapshot>\n  <name>s</name>\n  <state>running</state>\n"
                 "  <creationTime>5</creationTime>\n  <memory snapshot='internal'/>\n</domainsnapshot>\n",
                 "online redefine defaults memory to internal");
    check_format("<domainsnapshot><name>s</name><creationTime>5</creationTime><state>disk-snapshot</state>"
                 "<cookie><cpu/></cookie></domainsnapshot>", RD, 0, 0,
                 "<domainsnapshot>\n  <name>s</name>\n  <state>disk-snapshot</state>\n"
                 "  <creationTime>5</creationTime>\n  <memory snapshot='no'/>\n</domainsnapshot>\n",
                 "offline redefine defaults memory to no and drops the cookie");

    /* libvirt's on-disk file: warning comment first, <active> read when asked. */
    {
        static const char libvirt_file[] =
            "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
            "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
            "  virsh snapshot-edit\nor other application using the libvirt API.\n-->\n\n"
            HEAD "<active>1</active></domainsnapshot>\n";

        def = parse_ok(libvirt_file, RD | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, "libvirt metadata file");
        ok(def && def->active == 1, "ACTIVE_OPTIONAL reads <active>1</active>");
        if (def) {
            got = vs_snapshot_def_format_str(def, 0);
            ok(strstr(got, "<active>") == NULL, "public form has no <active>");
            free(got);
            got = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_INTERNAL);
            ok(strstr(got, "  <active>1</active>\n</domainsnapshot>\n") != NULL, "INTERNAL form ends with <active>1");
            free(got);
        }
        vs_snapshot_def_free(def);
        def = parse_ok(HEAD "</domainsnapshot>", RD | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, "no <active>");
        ok(def && def->active == -1, "ACTIVE_OPTIONAL without <active> leaves it unset");
        vs_snapshot_def_free(def);
        def = parse_ok(HEAD "<active>1</active></domainsnapshot>", RD, 0, "plain redefine");
        ok(def && def->active == -1, "<active> is ignored without INTERNAL/ACTIVE_OPTIONAL");
        vs_snapshot_def_free(def);
    }

    /* Disks: default external, type only with a path/format, driver first,
     * odd indentation of kept <source> normalised, startupPolicy dropped. */
    check_format("<domainsnapshot><name>d</name><disks>\n"
                 "<disk name='vda'><source file='/n.qcow2' startupPolicy='optional'/><driver type='qcow2'/></disk>\n"
                 "<disk name='vdb'><source/><driver/></disk>\n"
                 "<disk name='vdc' type='network'><source protocol='nbd' name='exp'>\n"
                 "            <host name='h' port='10809'/>\n"
                 "</source></disk>\n"
                 "<disk name='vdd' snapshot='manual'/>\n"
                 "<disk name='vde' type='block'><source dev='/dev/x'/></disk>\n"
                 "</disks></domainsnapshot>", 0, 4, 0,
                 "<domainsnapshot>\n  <name>d</name>\n  <creationTime>4</creationTime>\n  <disks>\n"
                 "    <disk name='vda' snapshot='external' type='file'>\n"
                 "      <driver type='qcow2'/>\n      <source file='/n.qcow2'/>\n    </disk>\n"
                 "    <disk name='vdb'/>\n"
                 "    <disk name='vdc' snapshot='external' type='network'>\n"
                 "      <source protocol='nbd' name='exp'>\n        <host name='h' port='10809'/>\n"
                 "      </source>\n    </disk>\n"
                 "    <disk name='vdd' snapshot='manual'/>\n"
                 "    <disk name='vde' snapshot='external' type='block'>\n"
                 "      <source dev='/dev/x'/>\n    </disk>\n"
                 "  </disks>\n</domainsnapshot>\n",
                 "disk entries");

    /* Metadata cache sizes are scaled to bytes. */
    check_format("<domainsnapshot><name>m</name><disks><disk name='vda'><driver type='qcow2'><metadata_cache>"
                 "<max_size unit='KiB'>2</max_size></metadata_cache></driver></disk></disks></domainsnapshot>",
                 0, 4, 0,
                 "<domainsnapshot>\n  <name>m</name>\n  <creationTime>4</creationTime>\n  <disks>\n"
                 "    <disk name='vda' snapshot='external' type='file'>\n      <driver type='qcow2'>\n"
                 "        <metadata_cache>\n          <max_size unit='bytes'>2048</max_size>\n"
                 "        </metadata_cache>\n      </driver>\n    </disk>\n  </disks>\n</domainsnapshot>\n",
                 "metadata cache in KiB");

    /* REDEFINE keeps revertDisks, snapshotDeleteInProgress, the cookie and the parent. */
    check_format(HEAD "<parent><name>p&amp;q</name></parent><disks><disk name='vda' snapshot='external'>"
                 "<snapshotDeleteInProgress/><source file='/a.s'/></disk></disks>"
                 "<revertDisks><disk name='vda' snapshot='external'><source file='/a.1'/></disk></revertDisks>"
                 "<cookie>\n<cpu mode='custom'>\n      <model>qemu64</model></cpu>\n   <slirpHelper/>\n</cookie>"
                 "</domainsnapshot>", RD, 0, 0,
                 "<domainsnapshot>\n  <name>s</name>\n  <state>running</state>\n"
                 "  <parent>\n    <name>p&amp;q</name>\n  </parent>\n  <creationTime>5</creationTime>\n"
                 "  <memory snapshot='internal'/>\n  <disks>\n"
                 "    <disk name='vda' snapshot='external' type='file'>\n      <snapshotDeleteInProgress/>\n"
                 "      <source file='/a.s'/>\n    </disk>\n  </disks>\n  <revertDisks>\n"
                 "    <disk name='vda' snapshot='external' type='file'>\n"
                 "      <source file='/a.1'/>\n    </disk>\n  </revertDisks>\n"
                 "  <cookie>\n    <cpu mode='custom'>\n      <model>qemu64</model>\n    </cpu>\n"
                 "    <slirpHelper/>\n  </cookie>\n</domainsnapshot>\n",
                 "redefine-only parts");

    check_format("<domainsnapshot><name>e</name><cookie>\n  </cookie></domainsnapshot>", 0, 4, 0,
                 "<domainsnapshot>\n  <name>e</name>\n  <creationTime>4</creationTime>\n"
                 "  <cookie>\n  </cookie>\n</domainsnapshot>\n", "empty cookie");

    /* Without REDEFINE neither snapshotDeleteInProgress nor revertDisks survive. */
    check_format("<domainsnapshot><name>n</name><disks><disk name='vda' snapshot='no'>"
                 "<snapshotDeleteInProgress/></disk></disks></domainsnapshot>", 0, 4, 0,
                 "<domainsnapshot>\n  <name>n</name>\n  <creationTime>4</creationTime>\n  <disks>\n"
                 "    <disk name='vda' snapshot='no'/>\n  </disks>\n</domainsnapshot>\n",
                 "create drops snapshotDeleteInProgress");

    /* Escaping of names and descriptions. */
    check_format("<domainsnapshot><name>a&lt;b&apos;c</name><description>x&gt;y\"z</description>"
                 "</domainsnapshot>", 0, 0, 0,
                 "<domainsnapshot>\n  <name>a&lt;b&apos;c</name>\n  <description>x&gt;y&quot;z</description>\n"
                 "</domainsnapshot>\n", "escaping");
    /* Control characters (only possible when set by code) are dropped. */
    def = vs_xcalloc(1, sizeof(*def));
    def->name = vs_xstrdup("c\001d\te");
    got = vs_snapshot_def_format_str(def, 0);
    is_str(got, "<domainsnapshot>\n  <name>cd\te</name>\n</domainsnapshot>\n", "control characters dropped");
    free(got);
    vs_snapshot_def_free(def);

    /* A changed source path wins over the kept <source> element. */
    def = parse_ok("<domainsnapshot><name>c</name><disks><disk name='vda'>"
                   "<source file='/old'><seclabel model='dac' relabel='no'/></source></disk></disks></domainsnapshot>",
                   0, 4, "kept source");
    if (def) {
        free(def->disks[0].source);
        def->disks[0].source = vs_xstrdup("/new");
        got = vs_snapshot_def_format_str(def, 0);
        ok(strstr(got, "      <source file='/new'/>\n") != NULL && !strstr(got, "/old"),
           "a changed path is formatted afresh");
        free(got);
        c = vs_snapshot_def_copy(def);
        c->disks[0].snapshot = VS_LOC_NO;
        vs_snapshot_def_free(def);
        got = vs_snapshot_def_format_str(c, 0);
        ok(strstr(got, "snapshot='no' type='file'") != NULL, "copies are independent");
        free(got);
        vs_snapshot_def_free(c);
    } else {
        skip("did not parse");
        skip("did not parse");
    }

    /* Seclabel inside a kept source survives a disk copy into another definition. */
    def = parse_ok("<domainsnapshot><name>c</name><disks><disk name='vda'>"
                   "<source file='/f'><seclabel model='dac' relabel='no'/></source></disk></disks></domainsnapshot>",
                   0, 4, "disk copy source");
    if (def) {
        vs_snapshot_def *other = vs_xcalloc(1, sizeof(*other));

        other->name = vs_xstrdup("o");
        other->disks = vs_xcalloc(1, sizeof(*other->disks));
        other->ndisks = 1;
        vs_snap_disk_copy(other, &other->disks[0], &def->disks[0]);
        vs_snapshot_def_free(def);
        got = vs_snapshot_def_format_str(other, 0);
        is_str(got, "<domainsnapshot>\n  <name>o</name>\n  <disks>\n"
               "    <disk name='vda' snapshot='external' type='file'>\n"
               "      <source file='/f'>\n        <seclabel model='dac' relabel='no'/>\n      </source>\n"
               "    </disk>\n  </disks>\n</domainsnapshot>\n", "vs_snap_disk_copy across definitions");
        free(got);
        vs_snapshot_def_free(other);
    } else {
        skip("did not parse");
    }

    /* Identity helpers (B.5, A.5). */
    {
        static const struct {
            const char *xml;
            bool external, location;
        } id[] = {
            { HEAD "</domainsnapshot>", false, false },
            { HEAD "<memory snapshot='external' file='/m'/></domainsnapshot>", true, true },
            { HEAD "<disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>", true, true },
            { "<domainsnapshot><name>s</name><creationTime>5</creationTime><state>disk-snapshot</state>"
              "<memory snapshot='no'/></domainsnapshot>", false, false },
        };
        size_t i;

        for (i = 0; i < sizeof(id) / sizeof(id[0]); i++) {
            def = vs_snapshot_def_parse(id[i].xml, strlen(id[i].xml), "x", RD, 0, NULL);
            ok(def && vs_snapshot_def_is_external(def) == id[i].external &&
               vs_snapshot_def_location_external(def) == id[i].location, "identity case %zu", i);
            vs_snapshot_def_free(def);
        }
        /* No <memory> element (a create-time def): disk-snapshot state decides. */
        def = vs_snapshot_def_parse("<domainsnapshot/>", 17, "x", 0, 1, NULL);
        if (def) {
            ok(!vs_snapshot_def_location_external(def), "no memory, no state: internal");
            def->state = VS_STATE_DISK_SNAPSHOT;
            ok(vs_snapshot_def_location_external(def), "no memory, disk-snapshot: external");
        } else {
            skip("did not parse");
            skip("did not parse");
        }
        vs_snapshot_def_free(def);
    }

    /* Legacy <domain> stub under REDEFINE, and states. */
    def = parse_ok(HEAD "<domain><uuid>" U9D "</uuid></domain></domainsnapshot>", RD, 0, "legacy stub");
    ok(def && !def->dom && def->dom_uuid && strcmp(def->dom_uuid, U9D) == 0, "legacy stub gives dom_uuid only");
    vs_snapshot_def_free(def);
    ok(strcmp(vs_snap_state_name(VS_STATE_DISK_SNAPSHOT), "disk-snapshot") == 0 &&
       vs_snap_state_parse("pmsuspended") == VS_STATE_PMSUSPENDED && vs_snap_state_parse("x") == -1,
       "state names");
}

/* ------------------------------------------------------------------ */
/* The project's corpus: tests/corpus/snapshot (B.1, B.2) */

/* A comma list of flag words; -1 when one is unknown. */
static long
flag_words(const char *words, const char *const *names, const unsigned *values, size_t n)
{
    char **w = vs_split_commas(words);
    long flags = 0;
    size_t i, k;

    for (i = 0; w[i]; i++) {
        for (k = 0; k < n && strcmp(w[i], names[k]) != 0; k++)
            ;
        if (k == n) {
            flags = -1;
            break;
        }
        flags |= values[k];
    }
    vs_strv_free(w);
    return flags;
}

static void
run_snapshot_corpus(void)
{
    static const char *const pnames[] = { "create", "redefine", "internal", "offline", "validate",
                                          "active-optional" };
    static const unsigned pvalues[] = { 0, VS_SNAP_PARSE_REDEFINE, VS_SNAP_PARSE_INTERNAL,
                                        VS_SNAP_PARSE_OFFLINE, VS_SNAP_PARSE_VALIDATE,
                                        VS_SNAP_PARSE_ACTIVE_OPTIONAL };
    static const char *const fnames[] = { "public", "secure", "internal" };
    static const unsigned fvalues[] = { 0, VS_SNAP_FORMAT_SECURE, VS_SNAP_FORMAT_INTERNAL };
    corpus c;
    size_t i;

    if (corpus_open(&c, "snapshot") < 0) {
        corpus_free(&c);
        return;
    }
    for (i = 0; i < c.ncases; i++) {
        const corpus_case *cc = &c.cases[i];
        const char *n = cc->name, *infile = corpus_key(cc, "in"), *schema = corpus_key(cc, "schema");
        long pflags = flag_words(corpus_word(cc, 0), pnames, pvalues, 6);
        long fflags = flag_words(corpus_word(cc, 2), fnames, fvalues, 3);
        long long now = strtoll(corpus_word(cc, 1), NULL, 10);
        char *inname = infile ? vs_xstrdup(infile) : vs_xasprintf("%s.xml", n);
        char *in = corpus_read(&c, inname), *want_err = corpus_chomp(corpus_file(&c, cc, ".err"));
        char *want = corpus_file(&c, cc, ".out"), *got = NULL, *again = NULL;
        vs_snapshot_def *def = NULL, *copy;
        vs_error err;

        if (!in || pflags < 0 || fflags < 0 || cc->nwords != 3 ||
            (schema && strcmp(schema, "invalid") != 0)) {
            ok(0, "%s: manifest line %d and input %s are usable", n, cc->line, inname);
            goto next;
        }
        if ((pflags & VS_SNAP_PARSE_VALIDATE) && !rng)
            goto next;      /* counted in the one schema skip */
        want_err = corpus_subst(want_err, "@SCHEMAS@", testenv_schema_dir());
        vs_error_clear(&err);
        def = vs_snapshot_def_parse(in, strlen(in), "(domain_snapshot)", (unsigned)pflags, now, &err);
        if (want_err) {
            ok(def == NULL, "%s: refused", n);
            is_str(err.msg, want_err, "%s: message", n);
            goto next;
        }
        ok(def != NULL, "%s: parses%s%s", n, def ? "" : ": ", def ? "" : err.msg);
        if (!def)
            goto next;
        got = vs_snapshot_def_format_str(def, (unsigned)fflags);
        is_str(got, want ? want : in, "%s: formats as %s.out%s", n, want ? n : inname,
               want ? "" : " (byte for byte)");

        copy = vs_snapshot_def_copy(def);
        again = vs_snapshot_def_format_str(copy, (unsigned)fflags);
        is_str(again, got, "%s: a copy formats the same", n);
        vs_snapshot_def_free(copy);
        free(again);

        /* The output is itself an input with the same meaning: parse it back
         * (<active> is only there to read in the INTERNAL form). */
        vs_snapshot_def_free(def);
        if (!(fflags & VS_SNAP_FORMAT_INTERNAL))
            pflags &= ~(long)VS_SNAP_PARSE_INTERNAL;
        def = vs_snapshot_def_parse(got, strlen(got), "(output)", (unsigned)pflags, now, &err);
        again = def ? vs_snapshot_def_format_str(def, (unsigned)fflags) : vs_xstrdup(err.msg);
        is_str(again, got, "%s: the output parses back to itself", n);
        free(again);

        ok_schema(got, n, schema == NULL);
 next:
        vs_snapshot_def_free(def);
        free(got);
        free(want);
        free(want_err);
        free(in);
        free(inname);
    }
    corpus_free(&c);
}

int
main(void)
{
    size_t i;

    /* Schemas first: VALIDATE reads them through VSNAP_SCHEMA_DIR. */
    if ((rng = testenv_schema("domainsnapshot.rng"))) {
        setenv("VSNAP_SCHEMA_DIR", testenv_schema_dir(), 1);
        for (i = 0; i < sizeof(newer_elements) / sizeof(newer_elements[0]); i++)
            if (!(known[i] = testenv_schema_knows(rng, newer_elements[i])))
                printf("# %s does not know <%s> (older libvirt): left out before validating\n",
                       rng, newer_elements[i]);
    } else {
        testenv_skip_schemas();
    }

    run_snapshot_corpus();
    run_error_cases();
    run_behaviour();

    /* Cross-checks against libvirt's own corpus. */
    if (testenv_reference()) {
        ref_dir = vs_xstrdup(testenv_reference());
        for (i = 0; i < sizeof(libvirt_corpus) / sizeof(libvirt_corpus[0]); i++)
            run_libvirt_case(&libvirt_corpus[i]);
        run_virsh_fixture("snapshot-s2.xml");
        run_virsh_fixture("snapshot-s3.xml");
        if (rng)
            run_schema_inputs();
    } else {
        testenv_skip_cross_checks();
    }

    free(ref_dir);
    free(rng);
    return tap_done();
}
