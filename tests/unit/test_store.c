/* store.c: layout, modes, atomicity, the derived index, define/undefine, locking. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "store.h"
#include "tap.h"

static char *root;

/* ---- fixtures ------------------------------------------------------- */

static const char *UUID1 = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
static const char *UUID2 = "9d37b878-a7cc-9f9a-b78f-49b3abad25a8";

static vs_domain_def *
mkdom(const char *name, const char *uuid)
{
    vs_error err;
    char *xml = vs_xasprintf(
        "<domain type='qemu'>\n"
        "  <name>%s</name>\n"
        "  <uuid>%s</uuid>\n"
        "  <memory unit='KiB'>32768</memory>\n"
        "  <vcpu placement='static'>1</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64' machine='pc'>hvm</type>\n"
        "  </os>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/nonexistent/%s.qcow2'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "  </devices>\n"
        "</domain>\n", name, uuid, name);
    vs_domain_def *def;

    vs_error_clear(&err);
    def = vs_domain_def_parse(xml, strlen(xml), "(test)", &err);
    if (!def)
        printf("# domain parse failed: %s\n", err.msg);
    free(xml);
    return def;
}

static vs_snapshot_def *
mksnap(const char *name, const char *parent, long long ctime, const char *state, bool external)
{
    vs_error err;
    vs_buf b = VS_BUF_INIT;
    vs_snapshot_def *def;

    vs_buf_addf(&b, "<domainsnapshot>\n  <name>%s</name>\n  <state>%s</state>\n", name, state);
    if (parent)
        vs_buf_addf(&b, "  <parent>\n    <name>%s</name>\n  </parent>\n", parent);
    vs_buf_addf(&b, "  <creationTime>%lld</creationTime>\n", ctime);
    if (external)
        vs_buf_addf(&b, "  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='external' type='file'>\n"
                    "      <source file='/nonexistent/vm.%s'/>\n    </disk>\n  </disks>\n", name);
    else
        vs_buf_add(&b, "  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='internal'/>\n  </disks>\n");
    vs_buf_add(&b, "</domainsnapshot>\n");
    vs_error_clear(&err);
    def = vs_snapshot_def_parse(b.data, b.len, "(test)", VS_SNAP_PARSE_REDEFINE, 0, &err);
    if (!def)
        printf("# snapshot parse failed: %s\n", err.msg);
    vs_buf_reset(&b);
    return def;
}

static char *
path_in(const char *dom, const char *rel)
{
    return vs_xasprintf("%s/%s/%s", root, dom, rel);
}

static int
file_mode(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* Temporary files left anywhere below dir (names starting with '.'). */
static int
count_dotfiles(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d))) {
        char *sub;
        struct stat st;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_name[0] == '.')
            n++;
        sub = vs_path_join(dir, de->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_dotfiles(sub);
        free(sub);
    }
    closedir(d);
    return n;
}

static void
rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d) {
        unlink(path);
        return;
    }
    while ((de = readdir(d))) {
        char *sub;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sub = vs_path_join(path, de->d_name);
        rm_rf(sub);
        free(sub);
    }
    closedir(d);
    rmdir(path);
}

static int
write_raw(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void
set_mtime(const char *path, long long ns)
{
    struct timespec ts[2];

    ts[0].tv_sec = ts[1].tv_sec = (time_t)(ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = (long)(ns % 1000000000LL);
    utimensat(AT_FDCWD, path, ts, 0);
}

/* Age every snapshot file and the directory by a minute, then load and close
 * once: the index rewritten then is certainly newer than the directory, so
 * the next load is deterministic whatever the file system's clock tick. */
static void
settle(vs_store *st, const char *dom)
{
    char *sdir = path_in(dom, "snapshots");
    long long old = (long long)(time(NULL) - 60) * 1000000000LL;
    DIR *d = opendir(sdir);
    struct dirent *de;
    vs_dom *h;

    while (d && (de = readdir(d))) {
        char *p;

        if (de->d_name[0] == '.')
            continue;
        p = vs_path_join(sdir, de->d_name);
        set_mtime(p, old - 10 * 1000000000LL);   /* files predate their rename into the dir */
        free(p);
    }
    if (d)
        closedir(d);
    set_mtime(sdir, old);
    /* and rebuild from scratch, so every line matches its file again */
    {
        char *ip = path_in(dom, "index");

        unlink(ip);
        free(ip);
    }
    h = vs_dom_open(st, dom, VS_LOCK_SHARED, NULL);
    vs_dom_tree(h, NULL);
    vs_dom_close(h);
    free(sdir);
}

static int
cmp_name_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name:parent" of every entry, sorted by name, for comparing trees. */
static char *
tree_str(vs_snap_tree *t)
{
    vs_buf b = VS_BUF_INIT;
    long *sel;
    size_t n = vs_snap_tree_select(t, -1, 0, &sel), i;

    for (i = 0; i < n; i++) {
        const vs_snap_entry *e = &t->e[sel[i]];

        vs_buf_addf(&b, "%s%s:%s%s", i ? " " : "", e->name, e->parent ? e->parent : "-",
                    e->external ? "(x)" : "");
    }
    if (t->current >= 0)
        vs_buf_addf(&b, " *%s", t->e[t->current].name);
    free(sel);
    return vs_buf_steal(&b);
}

static char *
load_str(vs_store *st, const char *dom, bool *from_index, size_t *parsed)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, dom, VS_LOCK_SHARED, &err);
    vs_snap_tree *t;
    char *s;

    if (!d)
        return vs_xasprintf("open failed: %s", err.msg);
    if (!(t = vs_dom_tree(d, &err))) {
        vs_dom_close(d);
        return vs_xasprintf("tree failed: %s", err.msg);
    }
    s = tree_str(t);
    if (from_index)
        *from_index = d->tree_from_index;
    if (parsed)
        *parsed = d->tree_parsed;
    vs_dom_close(d);
    return s;
}

static int
put_snap(vs_dom *d, const char *name, const char *parent, long long ctime, const char *state,
         bool external)
{
    vs_error err;
    vs_snapshot_def *def = mksnap(name, parent, ctime, state, external);
    int r;

    if (!def)
        return -1;
    r = vs_dom_write_snapshot(d, def, &err);
    if (r < 0)
        printf("# write %s: %s\n", name, err.msg);
    vs_snapshot_def_free(def);
    return r;
}

/* ---- tests ---------------------------------------------------------- */

static void
test_define(vs_store *st)
{
    vs_error err;
    vs_domain_def *def = mkdom("vm1", UUID1), *other, *clash;
    bool created = false;
    char **names = NULL;
    char *p;

    ok(vs_store_list_domains(st, &names, &err) == 0 && names && !names[0], "no root yet: no domains");
    vs_strv_free(names);

    ok(def != NULL, "domain fixture parses");
    if (!def)
        return;
    ok(vs_store_define(st, def, &created, &err) == 0 && created, "define creates vm1");
    p = vs_path_join(root, "vm1");
    ok(file_mode(p) == 0700, "domain dir is 0700 (%o)", file_mode(p));
    free(p);
    p = path_in("vm1", "domain.xml");
    ok(file_mode(p) == 0600, "domain.xml is 0600");
    free(p);
    ok(vs_store_define(st, def, &created, &err) == 0 && !created, "define again replaces");

    other = mkdom("vm1", UUID2);
    ok(other && vs_store_define(st, other, &created, &err) < 0, "same name, other uuid refused");
    p = vs_xasprintf("operation failed: domain 'vm1' already exists with uuid %s", UUID1);
    is_str(err.msg, p, "... with libvirt's message");
    free(p);
    vs_domain_def_free(other);

    clash = mkdom("vm9", UUID1);
    ok(clash && vs_store_define(st, clash, &created, &err) < 0, "other name, same uuid refused");
    p = vs_xasprintf("operation failed: domain 'vm1' is already defined with uuid %s", UUID1);
    is_str(err.msg, p, "... with libvirt's message");
    free(p);
    vs_domain_def_free(clash);

    other = mkdom("vm2", UUID2);
    ok(other && vs_store_define(st, other, &created, &err) == 0 && created, "define vm2");
    vs_domain_def_free(other);

    /* neither a directory without domain.xml nor a dot name is a domain */
    p = vs_path_join(root, "empty");
    mkdir(p, 0700);
    free(p);
    p = vs_path_join(root, ".hidden");
    mkdir(p, 0700);
    free(p);
    ok(vs_store_list_domains(st, &names, &err) == 0 && vs_strv_len(names) == 2 &&
       strcmp(names[0], "vm1") == 0 && strcmp(names[1], "vm2") == 0, "list_domains: vm1 vm2");
    vs_strv_free(names);
    ok(count_dotfiles(root) == 1, "no temporary files left (only .hidden)");
    vs_domain_def_free(def);
}

static void
test_open(vs_store *st)
{
    vs_error err;
    vs_dom *d;
    vs_domain_def *def;

    vs_error_clear(&err);
    ok(vs_dom_open(st, "nosuch", VS_LOCK_SHARED, &err) == NULL && err.code == VS_ERR_NO_DOMAIN,
       "unknown domain");
    is_str(err.msg, "Domain not found: no domain with matching name 'nosuch'", "... message");
    ok(vs_dom_open(st, "../vm1", VS_LOCK_SHARED, &err) == NULL, "domain name escape refused");
    is_str(err.msg, "invalid domain name '../vm1': name can't contain '/'", "... by vs_name_check");
    ok(vs_dom_open(st, ".", VS_LOCK_NONE, &err) == NULL, "'.' refused");
    ok(vs_dom_open(st, "", VS_LOCK_NONE, &err) == NULL, "empty name refused");

    d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);
    ok(d != NULL && d->lock_fd >= 0 && d->lock_mode == VS_LOCK_EXCLUSIVE, "open vm1 exclusive");
    if (!d)
        return;
    def = vs_dom_def(d, &err);
    ok(def && strcmp(def->name, "vm1") == 0 && strcasecmp(def->uuid, UUID1) == 0, "vs_dom_def reads domain.xml");
    ok(vs_dom_save_def(d, def, &err) == 0 && vs_dom_def(d, &err) != def, "save_def keeps a copy");
    {
        char *lock = path_in("vm1", "lock");

        ok(file_mode(lock) == 0600, "lock file lives in the domain dir, 0600");
        free(lock);
    }
    vs_dom_close(d);
}

static void
test_snapshots(vs_store *st)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);
    vs_snapshot_def *def;
    char *p, *s, *cur;
    vs_snap_tree *t;

    if (!d) {
        ok(0, "open vm1");
        return;
    }
    ok(vs_dom_current(d) == NULL, "no current snapshot yet");
    t = vs_dom_tree(d, &err);
    ok(t && t->n == 0 && t->current == -1, "empty tree without snapshots/");
    ok(put_snap(d, "s1", NULL, 1000, "shutoff", false) == 0, "write s1");
    ok(put_snap(d, "s2", "s1", 2000, "shutoff", false) == 0, "write s2");
    ok(put_snap(d, "s3", "s1", 3000, "disk-snapshot", true) == 0, "write s3 (external)");
    p = path_in("vm1", "snapshots");
    ok(file_mode(p) == 0700, "snapshots/ is 0700");
    ok(count_dotfiles(p) == 0, "no temporary files in snapshots/");
    free(p);
    p = vs_dom_snapshot_path(d, "s2");
    s = path_in("vm1", "snapshots/s2.xml");
    is_str(p, s, "vs_dom_snapshot_path");
    ok(file_mode(p) == 0600, "snapshot file is 0600");
    free(s);
    free(p);

    ok(vs_dom_set_current(d, "s2", &err) == 0, "set current s2");
    cur = vs_dom_current(d);
    is_str(cur, "s2", "current reads back");
    free(cur);
    p = path_in("vm1", "current");
    {
        char *data = NULL;
        size_t len;

        vs_file_read(p, 100, &data, &len, NULL);
        is_str(data, "s2\n", "current file holds the name and a newline");
        ok(file_mode(p) == 0600, "current is 0600");
        free(data);
    }
    t = vs_dom_tree(d, &err);
    s = tree_str(t);
    is_str(s, "s1:- s2:s1 s3:s1(x) *s2", "tree follows writes, relinked, current set");
    free(s);

    ok(vs_dom_set_current(d, NULL, &err) == 0 && !vs_file_exists(p) && vs_dom_current(d) == NULL,
       "clearing current removes the file");
    ok(vs_dom_tree(d, &err)->current == -1, "... and the tree has none");
    ok(vs_dom_set_current(d, "../x", &err) < 0, "current name escape refused");
    vs_dom_set_current(d, "s3", &err);
    free(p);

    def = vs_dom_read_snapshot(d, "s2", &err);
    ok(def && strcmp(def->name, "s2") == 0 && def->parent && strcmp(def->parent, "s1") == 0 &&
       def->creation_time == 2000 && def->state == VS_STATE_SHUTOFF, "read_snapshot round-trips");
    vs_snapshot_def_free(def);
    ok(vs_dom_read_snapshot(d, "nosuch", &err) == NULL && err.code == VS_ERR_NO_SNAPSHOT, "unknown snapshot");
    is_str(err.msg, "Domain snapshot not found: no domain snapshot with matching name 'nosuch'", "... message");
    ok(vs_dom_read_snapshot(d, "../../vm2/domain", &err) == NULL && err.code == VS_ERR_NO_SNAPSHOT,
       "read with an escaping name is not found");
    ok(vs_dom_has_snapshot(d, "s1") && !vs_dom_has_snapshot(d, "nosuch") && !vs_dom_has_snapshot(d, "../s1"),
       "has_snapshot");

    def = mksnap("bad/name", NULL, 1, "shutoff", false);
    if (def) {
        ok(vs_dom_write_snapshot(d, def, &err) < 0, "write with '/' in the name refused");
        is_str(err.msg, "invalid snapshot name 'bad/name': name can't contain '/'", "... message");
        vs_snapshot_def_free(def);
    } else {
        ok(1, "# SKIP parser refuses the name already");
        ok(1, "# SKIP");
    }
    def = mksnap(".hidden", NULL, 1, "shutoff", false);
    if (def) {
        ok(vs_dom_write_snapshot(d, def, &err) < 0, "write with a leading '.' refused");
        vs_snapshot_def_free(def);
    } else {
        ok(1, "# SKIP parser refuses the name already");
    }
    p = path_in("vm1", "snapshots");
    ok(count_dotfiles(p) == 0, "nothing written for refused names");
    free(p);

    ok(put_snap(d, "tmp", "s2", 4000, "shutoff", false) == 0 && vs_dom_remove_snapshot(d, "tmp", &err) == 0,
       "remove a snapshot");
    p = path_in("vm1", "snapshots/tmp.xml");
    ok(!vs_file_exists(p) && !vs_dom_has_snapshot(d, "tmp"), "... file and entry gone");
    free(p);
    ok(vs_dom_remove_snapshot(d, "tmp", &err) < 0 && err.code == VS_ERR_NO_SNAPSHOT, "remove unknown: not found");
    ok(vs_dom_remove_snapshot(d, "../domain", &err) < 0 && err.code == VS_ERR_NO_SNAPSHOT,
       "remove escaping name: not found");
    p = path_in("vm1", "domain.xml");
    ok(vs_file_exists(p), "domain.xml untouched");
    free(p);

    /* replace s2 with a new parent */
    ok(put_snap(d, "s2", "s3", 2000, "shutoff", false) == 0, "rewrite s2 under s3");
    s = tree_str(vs_dom_tree(d, &err));
    is_str(s, "s1:- s2:s3 s3:s1(x) *s3", "tree updated in place");
    free(s);
    vs_dom_close(d);

    p = path_in("vm1", "index");
    ok(vs_file_exists(p) && file_mode(p) == 0600, "close wrote the index, 0600");
    free(p);
    p = vs_path_join(root, "vm1");
    ok(count_dotfiles(p) == 0, "no temporary files in the domain dir");
    free(p);
}

static void
test_index(vs_store *st)
{
    bool from_index;
    size_t parsed;
    char *want, *s, *p, *ip;
    vs_error err;

    settle(st, "vm1");
    want = load_str(st, "vm1", &from_index, &parsed);
    is_str(want, "s1:- s2:s3 s3:s1(x) *s3", "reload gives the same tree");
    ok(from_index && parsed == 0, "fresh index: no XML parsed");

    /* The fresh index really is used: an in-place edit is not seen (by design). */
    ip = path_in("vm1", "index");
    {
        char *data = NULL;
        size_t len;

        vs_file_read(ip, 1 << 20, &data, &len, NULL);
        ok(data && strncmp(data, "vsnap-index 3 ", 14) == 0, "index header");
        ok(data && strstr(data, "\ns3\ts1\t3000\tdisk-snapshot\tel\t"), "index line for s3");
        free(data);
    }

    /* deleting the index rebuilds it */
    unlink(ip);
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, want, "index deleted: same tree");
    ok(!from_index && parsed == 3, "... parsed all 3 files");
    free(s);
    ok(vs_file_exists(ip), "... and wrote a new index");

    /* garbage index */
    settle(st, "vm1");
    write_raw(ip, "this is not an index\n\x01\x02");
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, want, "garbage index: same tree");
    ok(!from_index && parsed == 3, "... rebuilt from files");
    free(s);

    /* truncated index: whole lines are reused after checking the files (cut
     * in the last snapshot line, which ends where the header says) */
    settle(st, "vm1");
    {
        char *data = NULL;
        size_t len, snap_end = 0;
        FILE *f;

        vs_file_read(ip, 1 << 20, &data, &len, NULL);
        sscanf(data, "vsnap-index 3 %zu", &snap_end);
        f = fopen(ip, "w");
        fwrite(data, 1, snap_end > 5 ? snap_end - 5 : 0, f);
        fclose(f);
        free(data);
    }
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, want, "truncated index: same tree");
    ok(!from_index && parsed == 1, "... only the file of the cut line parsed (%zu)", parsed);
    free(s);

    /* a file replaced behind vsnap's back (rename, as editors and cp do) */
    settle(st, "vm1");
    {
        vs_snapshot_def *def = mksnap("s2", "s1", 2000, "shutoff", false);
        char *text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        char *tmp = path_in("vm1", "snapshots/s2.xml.new");

        p = path_in("vm1", "snapshots/s2.xml");
        write_raw(tmp, text);
        rename(tmp, p);
        free(tmp);
        free(text);
        vs_snapshot_def_free(def);
    }
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, "s1:- s2:s1 s3:s1(x) *s3", "replaced file seen: s2 back under s1");
    ok(!from_index && parsed == 1, "... only that file parsed");
    free(s);
    free(p);

    /* added, junk, misnamed and foreign files */
    settle(st, "vm1");
    {
        vs_snapshot_def *def = mksnap("s4", "s2", 5000, "running", false);
        char *text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);

        p = path_in("vm1", "snapshots/s4.xml");
        write_raw(p, text);
        free(p);
        p = path_in("vm1", "snapshots/other.xml");
        write_raw(p, text);             /* holds s4, not "other" */
        free(p);
        free(text);
        vs_snapshot_def_free(def);
        p = path_in("vm1", "snapshots/junk.xml");
        write_raw(p, "<domainsnapshot><name>junk</name");
        free(p);
        p = path_in("vm1", "snapshots/notes.txt");
        write_raw(p, "not a snapshot");
        free(p);
        p = path_in("vm1", "snapshots/.s9.xml.AbC123");
        write_raw(p, "temp");
        free(p);
    }
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, "s1:- s2:s1 s3:s1(x) s4:s2 *s3", "new file seen; junk, misnamed and foreign files skipped");
    free(s);
    p = path_in("vm1", "snapshots/other.xml");
    unlink(p);
    free(p);
    p = path_in("vm1", "snapshots/junk.xml");
    unlink(p);
    free(p);

    /* a file removed behind vsnap's back */
    p = path_in("vm1", "snapshots/s4.xml");
    unlink(p);
    free(p);
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, "s1:- s2:s1 s3:s1(x) *s3", "removed file gone");
    free(s);

    /* racy: index written in the same clock tick as the last change; a
     * same-size in-place rewrite within that tick must still be seen */
    settle(st, "vm1");
    {
        char *data = NULL, *line, *sdir = path_in("vm1", "snapshots");
        size_t len;
        long long m = 0, x;
        vs_snapshot_def *def = mksnap("s2", "s3", 2000, "shutoff", false);   /* s1 -> s3: same size */
        char *text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        vs_buf nb = VS_BUF_INIT;
        char *rest;

        vs_file_read(ip, 1 << 20, &data, &len, NULL);
        sscanf(strstr(data, "\n= ") + 1, "= %lld", &m);
        x = m;
        /* s2's line gets file mtime x; everything else as written */
        line = strstr(data, "\ns2\t");
        if (line) {
            char *tab = line + 1;
            int i;
            long long size;

            for (i = 0; i < 5; i++)
                tab = strchr(tab, '\t') + 1;
            vs_buf_addn(&nb, data, (size_t)(tab - data));
            sscanf(strchr(tab, '\t') + 1, "%lld", &size);
            vs_buf_addf(&nb, "%lld\t%lld", x, size);
            rest = strchr(strchr(tab, '\t') + 1, '\t');   /* the fields after the size */
            vs_buf_add(&nb, rest);
            write_raw(ip, nb.data);
        }
        p = path_in("vm1", "snapshots/s2.xml");
        {
            int fd = open(p, O_WRONLY | O_TRUNC);

            if (write(fd, text, strlen(text)) < 0)
                ok(0, "rewrite s2 in place");
            close(fd);
        }
        set_mtime(p, x);
        set_mtime(sdir, m);
        set_mtime(ip, m);
        ok(line != NULL, "index edited to look racy");
        s = load_str(st, "vm1", &from_index, &parsed);
        is_str(s, "s1:- s2:s3 s3:s1(x) *s3", "racy index: same-tick in-place change seen");
        ok(!from_index && parsed == 1, "... by re-reading just that file (%zu)", parsed);
        free(s);
        free(p);
        free(text);
        vs_snapshot_def_free(def);
        vs_buf_reset(&nb);
        free(data);
        free(sdir);
    }

    /* crash between a snapshot write and the index flush */
    settle(st, "vm1");
    {
        pid_t pid = fork();

        if (pid == 0) {
            vs_dom *d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, NULL);

            vs_dom_tree(d, NULL);
            put_snap(d, "crash", "s1", 6000, "shutoff", false);
            _exit(0);   /* no vs_dom_close: the index is never flushed */
        }
        waitpid(pid, NULL, 0);
    }
    s = load_str(st, "vm1", &from_index, &parsed);
    is_str(s, "crash:s1 s1:- s2:s3 s3:s1(x) *s3", "crash before the flush: new snapshot found");
    ok(!from_index && parsed == 1, "... parsing only the new file (%d %zu)", from_index, parsed);
    free(s);

    /* the directory changes between our load and our flush */
    {
        vs_dom *d = vs_dom_open(st, "vm1", VS_LOCK_NONE, &err);
        vs_snapshot_def *def = mksnap("late", "s1", 7000, "shutoff", false);
        char *text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);

        unlink(ip);
        vs_dom_tree(d, &err);          /* rebuild: index dirty */
        p = path_in("vm1", "snapshots/late.xml");
        write_raw(p, text);
        free(p);
        vs_dom_close(d);               /* flushes an index that lacks "late" */
        s = load_str(st, "vm1", &from_index, &parsed);
        ok(strstr(s, "late:s1") != NULL, "a change made during our session is not hidden by our flush");
        free(s);
        free(text);
        vs_snapshot_def_free(def);
    }

    /* a writer's flush makes the next load cheap */
    {
        vs_dom *d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);

        vs_dom_tree(d, &err);
        vs_dom_remove_snapshot(d, "late", &err);
        vs_dom_remove_snapshot(d, "crash", &err);
        put_snap(d, "s5", "s3", 8000, "shutoff", false);
        ok(d->index_dirty && vs_dom_flush_index(d, &err) == 0 && !d->index_dirty, "explicit flush");
        vs_dom_close(d);
        s = load_str(st, "vm1", &from_index, &parsed);
        is_str(s, "s1:- s2:s3 s3:s1(x) s5:s3 *s3", "writer's updates in the index");
        ok(parsed <= 1, "... at most the racy last file re-read (%zu)", parsed);
        free(s);
    }
    free(want);
    free(ip);
}

static void
test_inconsistent(vs_store *st)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, "vm2", VS_LOCK_EXCLUSIVE, &err);
    vs_snap_tree *t;

    put_snap(d, "orphan", "missing", 1, "shutoff", false);
    put_snap(d, "ok", NULL, 2, "shutoff", false);
    vs_dom_set_current(d, "ok", &err);
    t = vs_dom_tree(d, &err);
    ok(t && t->inconsistent && t->current == -1, "missing parent on disk: inconsistent, no current");
    vs_dom_close(d);
}

/* Fork a child that holds vm1's lock in `mode` until told to go. */
static pid_t
hold_lock(vs_store *st, vs_lock_mode mode, int *release_fd)
{
    int ready[2], go[2];
    pid_t pid;
    char c;

    if (pipe(ready) < 0 || pipe(go) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        vs_dom *d = vs_dom_open(st, "vm1", mode, NULL);

        close(ready[0]);
        close(go[1]);
        c = d ? 'y' : 'n';
        if (write(ready[1], &c, 1) < 0)
            _exit(1);
        if (read(go[0], &c, 1) < 0)
            _exit(1);
        vs_dom_close(d);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    if (read(ready[0], &c, 1) != 1 || c != 'y') {
        close(ready[0]);
        close(go[1]);
        waitpid(pid, NULL, 0);
        return -1;
    }
    close(ready[0]);
    *release_fd = go[1];
    return pid;
}

static void
release_lock(pid_t pid, int fd)
{
    if (write(fd, "x", 1) < 0)
        kill(pid, SIGKILL);
    close(fd);
    waitpid(pid, NULL, 0);
}

static void
test_lock(vs_store *st)
{
    vs_error err;
    vs_dom *d;
    int fd;
    pid_t pid;
    struct timespec t0, t1;
    double secs;

    st->lock_wait = 0;
    pid = hold_lock(st, VS_LOCK_EXCLUSIVE, &fd);
    ok(pid > 0, "child holds vm1 exclusively");
    if (pid <= 0)
        return;
    vs_error_clear(&err);
    d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);
    ok(!d && err.code == VS_ERR_BUSY, "exclusive vs exclusive: busy");
    is_str(err.msg, "domain 'vm1' is busy: another vsnap command holds its lock; "
           "nothing was changed, it is safe to retry", "busy message");
    d = vs_dom_open(st, "vm1", VS_LOCK_SHARED, &err);
    ok(!d && err.code == VS_ERR_BUSY, "shared vs exclusive: busy");
    d = vs_dom_open(st, "vm1", VS_LOCK_NONE, &err);
    ok(d != NULL, "no lock needed: opens anyway");
    vs_dom_close(d);
    ok(vs_store_undefine(st, "vm1", true, &err) < 0 && err.code == VS_ERR_BUSY, "undefine waits for the lock too");
    {
        vs_domain_def *def = mkdom("vm1", UUID1);

        ok(def && vs_store_define(st, def, NULL, &err) < 0 && err.code == VS_ERR_BUSY, "define takes the lock");
        vs_domain_def_free(def);
    }
    release_lock(pid, fd);

    pid = hold_lock(st, VS_LOCK_SHARED, &fd);
    ok(pid > 0, "child holds vm1 shared");
    if (pid <= 0)
        return;
    d = vs_dom_open(st, "vm1", VS_LOCK_SHARED, &err);
    ok(d != NULL, "shared vs shared: fine");
    vs_dom_close(d);
    d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);
    ok(!d && err.code == VS_ERR_BUSY, "exclusive vs shared: busy");

    /* waiting: the holder lets go while we wait */
    st->lock_wait = 5;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fork() == 0) {
        struct timespec ts = { 0, 300 * 1000 * 1000 };

        nanosleep(&ts, NULL);
        if (write(fd, "x", 1) < 0)
            _exit(1);
        _exit(0);
    }
    d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(d != NULL && secs >= 0.2 && secs < 4, "waits for the lock (%.2f s)", secs);
    vs_dom_close(d);
    close(fd);
    waitpid(pid, NULL, 0);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;

    /* timeout */
    pid = hold_lock(st, VS_LOCK_EXCLUSIVE, &fd);
    st->lock_wait = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    d = vs_dom_open(st, "vm1", VS_LOCK_SHARED, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(!d && err.code == VS_ERR_BUSY && secs >= 0.9 && secs < 3, "gives up after lock_wait (%.2f s)", secs);
    is_str(err.msg, "domain 'vm1' is busy: another vsnap command held its lock for the 1 second "
           "vsnap waited; nothing was changed, it is safe to retry", "timeout message");
    release_lock(pid, fd);
    st->lock_wait = 30;
}

static void
test_undefine(vs_store *st)
{
    vs_error err;
    char **names;
    char *p;

    ok(vs_store_undefine(st, "vm1", false, &err) < 0 && err.code == VS_ERR_OPERATION_INVALID,
       "undefine with snapshots refused");
    is_str(err.msg, "Requested operation is not valid: cannot delete inactive domain with 4 snapshots",
           "... libvirt's message");
    p = path_in("vm1", "domain.xml");
    ok(vs_file_exists(p), "... nothing removed");
    free(p);
    ok(vs_store_undefine(st, "vm1", true, &err) == 0, "undefine with snapshots");
    p = vs_path_join(root, "vm1");
    ok(!vs_file_exists(p), "domain directory gone");
    free(p);
    ok(vs_store_undefine(st, "vm1", true, &err) < 0 && err.code == VS_ERR_NO_DOMAIN, "undefine again: not found");
    ok(vs_store_undefine(st, "../x", true, &err) < 0, "undefine escaping name refused");
    ok(vs_store_list_domains(st, &names, &err) == 0 && vs_strv_len(names) == 1 && strcmp(names[0], "vm2") == 0,
       "only vm2 left");
    vs_strv_free(names);
    ok(count_dotfiles(root) == 1, "no leftovers from the undefine (only .hidden)");

    /* empty domain: no flag needed; define again afterwards starts afresh */
    {
        vs_domain_def *def = mkdom("vm3", "11111111-2222-3333-4444-555555555555");
        bool created;

        vs_store_define(st, def, &created, &err);
        ok(vs_store_undefine(st, "vm3", false, &err) == 0, "undefine without snapshots");
        ok(vs_store_define(st, def, &created, &err) == 0 && created, "define after undefine creates");
        vs_domain_def_free(def);
    }
}

static void
test_big(vs_store *st)
{
    vs_error err;
    vs_domain_def *def = mkdom("big", "22222222-2222-3333-4444-555555555555");
    vs_dom *d;
    char name[32], parent[32];
    int i;
    struct timespec t0, t1;
    double ms;
    bool from_index;
    size_t parsed;
    char *s;

    vs_store_define(st, def, NULL, &err);
    vs_domain_def_free(def);
    d = vs_dom_open(st, "big", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_tree(d, &err);
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "n%03d", i);
        snprintf(parent, sizeof(parent), "n%03d", i / 2);
        put_snap(d, name, i ? parent : NULL, 100000 + i, "shutoff", i % 7 == 0);
    }
    vs_dom_set_current(d, "n299", &err);
    vs_dom_close(d);
    settle(st, "big");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s = load_str(st, "big", &from_index, &parsed);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ok(from_index && parsed == 0 && strstr(s, "n299:n149 *n299"), "300 snapshots from the index (%.2f ms)", ms);
    free(s);
}

/* ---- the root: -d that does not exist, or is a file ------------------ */

static void
test_root(void)
{
    char *missing = vs_path_join(root, "../no-such-root");
    char *file = vs_path_join(root, "../a-file");
    char *want, **names = NULL;
    vs_store *s;
    vs_error err;
    vs_domain_def *def;
    struct stat sb;

    s = vs_store_open(missing, 0, &err);
    ok(s != NULL && !vs_file_exists(missing), "a store on a missing root opens, creating nothing");
    vs_error_clear(&err);
    ok(vs_store_list_domains(s, &names, &err) < 0 && names == NULL, "listing a missing root fails");
    want = vs_xasprintf("metadata directory '%s' does not exist; only define creates it", missing);
    is_str(err.msg, want, "... saying it does not exist");
    ok(vs_dom_open(s, "vm1", VS_LOCK_SHARED, &err) == NULL && err.code != VS_ERR_NO_DOMAIN,
       "opening a domain there fails the same way, not as an unknown domain");
    is_str(err.msg, want, "... same message");
    free(want);
    ok(vs_store_undefine(s, "vm1", true, &err) < 0 && !vs_file_exists(missing),
       "undefine fails and creates nothing");
    def = mkdom("rootvm", "33333333-2222-3333-4444-555555555555");
    ok(def && vs_store_define(s, def, NULL, &err) == 0, "define creates the root");
    ok(stat(missing, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0700,
       "... mode 0700");
    ok(vs_store_list_domains(s, &names, &err) == 0 && vs_strv_len(names) == 1,
       "... and lists what it defined");
    vs_strv_free(names);
    names = NULL;
    vs_store_free(s);

    write_raw(file, "not a directory\n");
    s = vs_store_open(file, VS_STORE_MAY_BE_ABSENT, &err);
    want = vs_xasprintf("metadata directory '%s' is not a directory", file);
    ok(vs_store_list_domains(s, &names, &err) < 0, "a root that is a file: listing fails");
    is_str(err.msg, want, "... saying it is not a directory");
    ok(def && vs_store_define(s, def, NULL, &err) < 0, "define there fails too");
    is_str(err.msg, want, "... with the same message");
    free(want);
    vs_store_free(s);

    /* vsnap's own default root may be absent: an empty store */
    s = vs_store_open(missing, VS_STORE_MAY_BE_ABSENT, &err);
    rm_rf(missing);
    ok(vs_store_list_domains(s, &names, &err) == 0 && names && !names[0],
       "the default root absent: no domains");
    vs_strv_free(names);
    ok(vs_dom_open(s, "vm1", VS_LOCK_SHARED, &err) == NULL && err.code == VS_ERR_NO_DOMAIN,
       "... and an unknown domain");
    vs_store_free(s);
    vs_domain_def_free(def);
    unlink(file);
    free(file);
    free(missing);
}

/* ---- links planted in the store ------------------------------------- */

/* sha-less fingerprint of a file or directory: content + mtime + size */
static char *
fingerprint(const char *path)
{
    struct stat sb;
    char *data = NULL, *s;
    size_t len = 0;

    if (lstat(path, &sb) < 0)
        return vs_xstrdup("(missing)");
    if (S_ISREG(sb.st_mode))
        vs_file_read(path, 1 << 20, &data, &len, NULL);
    s = vs_xasprintf("%o %lld %lld.%09ld [%s]", (unsigned)sb.st_mode, (long long)sb.st_size,
                     (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, data ? data : "");
    free(data);
    return s;
}

static void
expect_link_error(const vs_error *err, const char *shown, const char *what)
{
    char *want = vs_xasprintf("'%s' is a symbolic link; vsnap does not follow links inside its "
                              "metadata directory", shown);

    is_str(err->msg, want, "%s: the error names the link", what);
    free(want);
}

static void
test_links(vs_store *st)
{
    static const vs_dom_entry entries[] = {
        VS_DOM_DEFINITION, VS_DOM_SNAPSHOTS, VS_DOM_CURRENT, VS_DOM_INDEX,
        VS_DOM_LOCK, VS_DOM_JOURNAL, VS_DOM_REGISTRY, VS_DOM_MANAGED_SAVE, VS_DOM_AUTOSTART,
        VS_DOM_RUN,
    };
    char *outside = vs_path_join(root, "../outside");
    vs_domain_def *def = mkdom("lk", "44444444-2222-3333-4444-555555555555");
    vs_error err;
    vs_dom *d;
    size_t i;

    mkdir(outside, 0700);
    vs_store_define(st, def, NULL, &err);
    d = vs_dom_open(st, "lk", VS_LOCK_EXCLUSIVE, &err);
    put_snap(d, "s1", NULL, 100, "shutoff", false);
    vs_dom_set_current(d, "s1", &err);
    vs_dom_journal_store(d, "{}", 2, &err);
    {
        char *reg[] = { "/img/o1", NULL };

        vs_dom_registry_store(d, reg, &err);
    }
    vs_dom_set_autostart(d, true, &err);
    {
        char *ms = path_in("lk", "managed.save");

        write_raw(ms, "LibvirtQemudSave");
        free(ms);
    }
    {
        char *run = path_in("lk", "run");

        mkdir(run, 0700);
        free(run);
    }
    vs_dom_close(d);

    ok(VS_DOM_NENTRIES == sizeof(entries) / sizeof(entries[0]), "every layout entry is tried");
    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        const vs_dom_layout_entry *l = &vs_dom_layout[entries[i]];
        char *entry = path_in("lk", l->name), *aside = vs_xasprintf("%s.aside", entry);
        char *target = vs_xasprintf("%s/%s", outside, l->name);
        char *before, *after, *dbefore, *dafter;
        vs_domain_def *same = mkdom("lk", "44444444-2222-3333-4444-555555555555");

        rename(entry, aside);
        if (l->directory) {
            char *s9 = vs_xasprintf("%s/s9.xml", target);

            mkdir(target, 0700);
            write_raw(s9, "outside file");
            free(s9);
        } else {
            write_raw(target, "outside content\n");
        }
        symlink(target, entry);
        before = fingerprint(target);
        dbefore = fingerprint(outside);
        vs_error_clear(&err);
        d = vs_dom_open(st, "lk", VS_LOCK_SHARED, &err);
        ok(d == NULL, "%s is a link: the domain does not open (shared)", l->name);
        expect_link_error(&err, entry, l->name);
        vs_dom_close(d);
        d = vs_dom_open(st, "lk", VS_LOCK_NONE, &err);
        ok(d == NULL, "%s is a link: ... nor without a lock", l->name);
        vs_dom_close(d);
        d = vs_dom_open(st, "lk", VS_LOCK_EXCLUSIVE, &err);
        ok(d == NULL, "%s is a link: ... nor exclusively", l->name);
        vs_dom_close(d);
        ok(vs_store_undefine(st, "lk", true, &err) < 0, "%s is a link: undefine fails", l->name);
        expect_link_error(&err, entry, l->name);
        ok(vs_store_define(st, same, NULL, &err) < 0, "%s is a link: define fails", l->name);
        expect_link_error(&err, entry, l->name);
        after = fingerprint(target);
        dafter = fingerprint(outside);
        is_str(after, before, "%s is a link: its target is untouched", l->name);
        is_str(dafter, dbefore, "%s is a link: nothing was created beside the target", l->name);
        if (l->directory) {
            char *s9 = vs_xasprintf("%s/s9.xml", target);

            unlink(s9);
            free(s9);
            rmdir(target);
        }
        unlink(entry);
        unlink(target);
        rename(aside, entry);
        vs_domain_def_free(same);
        free(before);
        free(after);
        free(dbefore);
        free(dafter);
        free(target);
        free(aside);
        free(entry);
    }
    d = vs_dom_open(st, "lk", VS_LOCK_EXCLUSIVE, &err);
    ok(d != NULL, "with the links gone the domain opens again");
    /* the journal was there only to be replaced by a link: an interrupted
     * operation would stop the undefines below */
    if (d)
        vs_dom_journal_remove(d, NULL);

    /* a snapshot file that is a link */
    if (d) {
        char *link = path_in("lk", "snapshots/s2.xml"), *target = vs_path_join(outside, "s2.xml");
        vs_snapshot_def *s2 = mksnap("s2", "s1", 200, "shutoff", false);
        char *text = vs_snapshot_def_format_str(s2, VS_SNAP_FORMAT_SECURE);
        const vs_snap_damage *dmg;
        size_t n;
        char *before;

        write_raw(target, text);
        symlink(target, link);
        before = fingerprint(target);
        vs_dom_close(d);
        d = vs_dom_open(st, "lk", VS_LOCK_EXCLUSIVE, &err);
        ok(vs_dom_tree(d, &err) && !vs_dom_has_snapshot(d, "s2"), "a linked snapshot file is no snapshot");
        ok(vs_dom_damaged(d, &dmg, &n, &err) == 0 && n == 1 && strcmp(dmg[0].file, "s2.xml") == 0,
           "... it is reported as damaged");
        ok(n == 1 && strstr(dmg[0].reason, "is a symbolic link") && strstr(dmg[0].reason, link),
           "... the reason names the link: %s", n ? dmg[0].reason : "");
        ok(vs_dom_read_snapshot(d, "s2", &err) == NULL, "reading it fails");
        expect_link_error(&err, link, "snapshots/s2.xml read");
        ok(vs_dom_write_snapshot(d, s2, &err) < 0, "writing it fails");
        expect_link_error(&err, link, "snapshots/s2.xml write");
        ok(vs_dom_remove_snapshot(d, "s2", &err) < 0, "removing it fails");
        expect_link_error(&err, link, "snapshots/s2.xml remove");
        vs_dom_close(d);
        d = NULL;
        ok(vs_store_undefine(st, "lk", true, &err) < 0, "undefine refuses a domain holding a link");
        expect_link_error(&err, link, "undefine");
        {
            char *after = fingerprint(target);

            is_str(after, before, "the linked snapshot file's target is untouched");
            free(after);
        }
        ok(vs_file_exists(link), "... and so is the link");
        unlink(link);
        unlink(target);
        free(before);
        free(text);
        vs_snapshot_def_free(s2);
        free(target);
        free(link);
    }
    vs_dom_close(d);

    /* the domain directory itself is a link */
    {
        char *evil = vs_path_join(root, "evil"), *target = vs_path_join(outside, "evil");
        char *tdef = vs_path_join(target, "domain.xml"), *before, *after, **names, **skipped;
        vs_domain_def *edef = mkdom("evil", "55555555-2222-3333-4444-555555555555");
        vs_buf b = VS_BUF_INIT;

        mkdir(target, 0700);
        vs_domain_def_format(&b, edef, 0, true, NULL);
        write_raw(tdef, vs_buf_str(&b));
        vs_buf_reset(&b);
        symlink(target, evil);
        before = fingerprint(tdef);
        ok(vs_dom_open(st, "evil", VS_LOCK_SHARED, &err) == NULL, "a linked domain directory does not open");
        expect_link_error(&err, evil, "domain directory");
        ok(vs_store_undefine(st, "evil", true, &err) < 0, "... undefine fails");
        expect_link_error(&err, evil, "domain directory undefine");
        ok(vs_store_define(st, edef, NULL, &err) < 0, "... define fails");
        expect_link_error(&err, evil, "domain directory define");
        ok(vs_store_scan(st, &names, &skipped, &err) == 0, "scan the root");
        {
            bool listed = false;

            for (i = 0; names[i]; i++)
                listed |= strcmp(names[i], "evil") == 0;
            ok(!listed, "... the linked directory is not listed");
        }
        ok(vs_strv_len(skipped) == 1 && strstr(skipped[0], "is a symbolic link") &&
           strstr(skipped[0], evil), "... and reported: %s", skipped[0] ? skipped[0] : "");
        vs_strv_free(names);
        vs_strv_free(skipped);
        after = fingerprint(tdef);
        is_str(after, before, "the linked domain directory's definition is untouched");
        free(after);
        {
            char *lock = vs_path_join(target, "lock");

            ok(!vs_file_exists(lock), "... and no lock was made there");
            free(lock);
        }
        unlink(evil);
        free(before);
        free(tdef);
        free(target);
        free(evil);
        vs_domain_def_free(edef);
    }
    /* a domain.xml that is a link: not listed, reported */
    {
        char *dx = path_in("lk", "domain.xml"), *aside = vs_xasprintf("%s.aside", dx);
        char **names, **skipped;

        rename(dx, aside);
        symlink(aside, dx);
        ok(vs_store_scan(st, &names, &skipped, &err) == 0 && vs_strv_len(skipped) == 1 &&
           strstr(skipped[0], dx), "a linked domain.xml: the domain is skipped and reported");
        vs_strv_free(names);
        vs_strv_free(skipped);
        unlink(dx);
        rename(aside, dx);
        free(aside);
        free(dx);
    }
    ok(vs_store_undefine(st, "lk", true, &err) == 0, "undefine works again without links");
    vs_domain_def_free(def);
    rm_rf(outside);
    free(outside);
}

/* ---- damaged snapshot files ----------------------------------------- */

static char *
damage_str(vs_dom *d)
{
    const vs_snap_damage *dmg;
    size_t n, i;
    vs_buf b = VS_BUF_INIT;
    vs_error err;
    const char *p;

    if (vs_dom_damaged(d, &dmg, &n, &err) < 0)
        return vs_xasprintf("error: %s", err.msg);
    for (i = 0; i < n; i++) {
        if (i)
            vs_buf_addc(&b, ' ');
        for (p = dmg[i].file; *p; p++) {
            if ((unsigned char)*p < 0x20)
                vs_buf_addf(&b, "\\x%02x", (unsigned char)*p);
            else
                vs_buf_addc(&b, *p);
        }
    }
    return vs_buf_steal(&b);
}

/* Open dm, load the tree; the tree and the damage as strings. */
static void
load_damage(vs_store *st, char **tree, char **damage, bool *from_index, size_t *parsed)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, "dm", VS_LOCK_SHARED, &err);
    vs_snap_tree *t = d ? vs_dom_tree(d, &err) : NULL;

    *tree = t ? tree_str(t) : vs_xasprintf("failed: %s", err.msg);
    if (from_index)
        *from_index = d && d->tree_from_index;
    if (parsed)
        *parsed = d ? d->tree_parsed : 0;
    *damage = d ? damage_str(d) : vs_xstrdup("");
    vs_dom_close(d);
}

static void
test_damaged(vs_store *st)
{
    vs_domain_def *def = mkdom("dm", "66666666-2222-3333-4444-555555555555");
    vs_error err;
    vs_dom *d;
    char *tree, *dmg, *p, *good_s2 = NULL;
    bool from_index;
    size_t parsed;

    vs_store_define(st, def, NULL, &err);
    vs_domain_def_free(def);
    d = vs_dom_open(st, "dm", VS_LOCK_EXCLUSIVE, &err);
    put_snap(d, "s1", NULL, 100, "shutoff", false);
    put_snap(d, "s2", "s1", 200, "shutoff", false);
    put_snap(d, "s3", "s1", 300, "shutoff", false);
    ok(vs_dom_damaged(d, &(const vs_snap_damage *){ NULL }, &parsed, &err) == 0 && parsed == 0,
       "no damage in a store vsnap wrote");
    vs_dom_close(d);
    p = path_in("dm", "snapshots/s2.xml");
    vs_file_read(p, 1 << 20, &good_s2, NULL, NULL);
    free(p);

    /* truncated (in place), holding another snapshot, a link, a directory,
     * a name no snapshot can have */
    p = path_in("dm", "snapshots/s2.xml");
    {
        FILE *f = fopen(p, "r+");

        if (f) {
            if (ftruncate(fileno(f), 40) < 0)
                ok(0, "truncate");
            fclose(f);
        }
    }
    free(p);
    p = path_in("dm", "snapshots/other.xml");
    write_raw(p, good_s2 ? good_s2 : "");
    free(p);
    p = path_in("dm", "snapshots/l.xml");
    if (symlink("/etc/hostname", p) < 0)
        ok(0, "symlink");
    free(p);
    p = path_in("dm", "snapshots/dir.xml");
    mkdir(p, 0700);
    free(p);
    p = path_in("dm", "snapshots/a\001b.xml");
    write_raw(p, "x");
    free(p);
    p = path_in("dm", "snapshots/notes.txt");
    write_raw(p, "not a snapshot file name: ignored");
    free(p);

    load_damage(st, &tree, &dmg, NULL, NULL);
    is_str(tree, "s1:- s3:s1", "damaged files are not in the tree");
    is_str(dmg, "a\\x01b.xml dir.xml l.xml other.xml s2.xml", "... and are all reported, by file name");
    free(tree);
    free(dmg);
    d = vs_dom_open(st, "dm", VS_LOCK_SHARED, &err);
    {
        const vs_snap_damage *x;
        size_t n, i;
        bool named = true;

        vs_dom_damaged(d, &x, &n, &err);
        for (i = 0; i < n; i++) {
            char *shown = vs_xasprintf("%s/dm/snapshots/", root);

            named &= strstr(x[i].reason, shown) != NULL && !strchr(x[i].reason, '\n');
            free(shown);
        }
        ok(n == 5 && named, "every reason is one line naming the file");
        for (i = 0; i < n; i++)
            printf("#   %s: %s\n", x[i].file, x[i].reason);
        ok(n == 5 && strstr(x[3].reason, "holds snapshot 's2'"), "wrong <name>: says what it holds");
        ok(n == 5 && strstr(x[1].reason, "not a regular file"), "a directory: not a regular file");
        ok(n == 5 && strstr(x[0].reason, "control characters"), "a bad name: says why");
    }
    vs_dom_close(d);

    /* the damage is kept in the index: a fresh index serves it unparsed */
    settle(st, "dm");
    load_damage(st, &tree, &dmg, &from_index, &parsed);
    ok(from_index && parsed == 0, "fresh index: nothing parsed");
    is_str(dmg, "a\\x01b.xml dir.xml l.xml other.xml s2.xml", "... and the same damage, from the index");
    free(tree);
    free(dmg);
    p = path_in("dm", "index");
    {
        char *data = NULL;

        vs_file_read(p, 1 << 20, &data, NULL, NULL);
        ok(data && strstr(data, "\n\ta\\x01b.xml\t"), "the index escapes the bad name");
        ok(data && strncmp(data, "vsnap-index 3 ", 14) == 0 && strstr(data, "\n= ") &&
           strstr(strstr(data, "\n= "), " 2 5 "),
           "the index's commit record counts 2 snapshots and 5 damaged files");
        free(data);
    }
    free(p);

    /* index stale (the directory changed): damage recorded for unchanged
     * files is reused, not parsed again */
    p = path_in("dm", "snapshots/new.xml");
    write_raw(p, "<domainsnapshot>");
    free(p);
    load_damage(st, &tree, &dmg, &from_index, &parsed);
    ok(!from_index && parsed == 1, "stale index: only the new file parsed (%zu)", parsed);
    is_str(dmg, "a\\x01b.xml dir.xml l.xml new.xml other.xml s2.xml", "... and it joins the damage");
    free(tree);
    free(dmg);

    /* fixed in place while the index is fresh: vs_dom_damaged checks every
     * file's stat and sees it */
    settle(st, "dm");
    p = path_in("dm", "snapshots/s2.xml");
    {
        int fd = open(p, O_WRONLY | O_TRUNC);

        if (fd < 0 || write(fd, good_s2, strlen(good_s2)) < 0)
            ok(0, "rewrite s2 in place");
        if (fd >= 0)
            close(fd);
    }
    free(p);
    d = vs_dom_open(st, "dm", VS_LOCK_SHARED, &err);
    {
        vs_snap_tree *t = vs_dom_tree(d, &err);
        char *before = tree_str(t), *after;

        ok(d->tree_from_index, "fixed in place: the listing still comes from the fresh index");
        is_str(before, "s1:- s3:s1", "... which does not see it (by design)");
        dmg = damage_str(d);
        is_str(dmg, "a\\x01b.xml dir.xml l.xml new.xml other.xml", "vs_dom_damaged sees the repair");
        ok(vs_dom_tree(d, &err) == t, "... the tree pointer stays valid");
        after = tree_str(vs_dom_tree(d, &err));
        is_str(after, "s1:- s2:s1 s3:s1", "... and the tree has s2 again");
        free(before);
        free(after);
        free(dmg);
    }
    vs_dom_close(d);
    load_damage(st, &tree, &dmg, NULL, NULL);
    is_str(dmg, "a\\x01b.xml dir.xml l.xml new.xml other.xml", "the repair is in the index it flushed");
    free(tree);
    free(dmg);

    /* damaged in place while the index is fresh */
    settle(st, "dm");
    p = path_in("dm", "snapshots/s3.xml");
    write_raw(p, "<domainsnapshot><name>s3</name>");
    free(p);
    d = vs_dom_open(st, "dm", VS_LOCK_SHARED, &err);
    vs_dom_tree(d, &err);
    dmg = damage_str(d);
    is_str(dmg, "a\\x01b.xml dir.xml l.xml new.xml other.xml s3.xml",
           "damaged in place under a fresh index: vs_dom_damaged sees it");
    free(dmg);
    tree = tree_str(vs_dom_tree(d, &err));
    is_str(tree, "s1:- s2:s1", "... and s3 leaves the tree");
    free(tree);
    vs_dom_close(d);

    /* fixed by writing the snapshot, or by removing the file */
    d = vs_dom_open(st, "dm", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_tree(d, &err);
    ok(put_snap(d, "s3", "s1", 300, "shutoff", false) == 0, "write s3 over its damaged file");
    ok(vs_dom_remove_snapshot(d, "new", &err) == 0 && vs_dom_remove_snapshot(d, "other", &err) == 0,
       "remove two damaged files");
    dmg = damage_str(d);
    is_str(dmg, "a\\x01b.xml dir.xml l.xml", "... they leave the damage list at once");
    free(dmg);
    vs_dom_close(d);
    p = path_in("dm", "snapshots/l.xml");
    unlink(p);
    free(p);
    p = path_in("dm", "snapshots/a\001b.xml");
    unlink(p);
    free(p);
    load_damage(st, &tree, &dmg, NULL, NULL);
    is_str(dmg, "dir.xml", "files removed by hand leave at the next load");
    is_str(tree, "s1:- s2:s1 s3:s1", "... and the tree is whole");
    free(tree);
    free(dmg);

    /* unreadable: only a user that permissions apply to can see it */
    if (geteuid() != 0) {
        p = path_in("dm", "snapshots/s2.xml");
        chmod(p, 0);
        load_damage(st, &tree, &dmg, NULL, NULL);
        is_str(dmg, "dir.xml s2.xml", "an unreadable file is damaged");
        chmod(p, 0600);
        free(tree);
        free(dmg);
        free(p);
    } else {
        ok(1, "# SKIP unreadable file: running as root");
    }

    /* undefine counts damaged files as snapshots */
    d = vs_dom_open(st, "dm", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_remove_snapshot(d, "s3", &err);
    vs_dom_remove_snapshot(d, "s2", &err);
    vs_dom_remove_snapshot(d, "s1", &err);
    vs_dom_close(d);
    ok(vs_store_undefine(st, "dm", false, &err) < 0, "undefine refuses a domain with only a damaged file");
    is_str(err.msg, "Requested operation is not valid: cannot delete inactive domain with 1 snapshots",
           "... counting it");
    ok(vs_store_undefine(st, "dm", true, &err) == 0, "--snapshots-metadata removes it");
    free(good_s2);
}

/* ---- creation order ------------------------------------------------- */

static char *
topo_str(vs_store *st, const char *dom)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, dom, VS_LOCK_SHARED, &err);
    vs_snap_tree *t = d ? vs_dom_tree(d, &err) : NULL;
    vs_buf b = VS_BUF_INIT;
    long *sel;
    size_t n, i;

    if (!t) {
        vs_dom_close(d);
        return vs_xasprintf("failed: %s", err.msg);
    }
    n = vs_snap_tree_select(t, -1, VS_LIST_TOPOLOGICAL, &sel);
    for (i = 0; i < n; i++)
        vs_buf_addf(&b, "%s%s", i ? " " : "", t->e[sel[i]].name);
    free(sel);
    vs_dom_close(d);
    return vs_buf_steal(&b);
}

static void
test_seq(vs_store *st)
{
    /* created in this order, all in one second, names in no useful order */
    static const char *const order[] = { "root", "zeta", "alpha", "mid", "beta" };
    vs_error err;
    vs_dom *d;
    char *s, *p, *data = NULL;
    int k;
    size_t i;

    for (k = 0; k < 3; k++) {
        char dname[16];
        vs_domain_def *def;

        snprintf(dname, sizeof(dname), "sq%d", k);
        def = mkdom(dname, k == 0 ? "77777777-2222-3333-4444-555555555550" :
                           k == 1 ? "77777777-2222-3333-4444-555555555551" :
                                    "77777777-2222-3333-4444-555555555552");
        vs_store_define(st, def, NULL, &err);
        vs_domain_def_free(def);
        d = vs_dom_open(st, dname, VS_LOCK_EXCLUSIVE, &err);
        /* k = 1: a tree already loaded; k = 2: closed and reopened each time */
        for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            if (k == 2) {
                vs_dom_close(d);
                d = vs_dom_open(st, dname, VS_LOCK_EXCLUSIVE, &err);
            }
            put_snap(d, order[i], i ? "root" : NULL, 5000, "shutoff", false);
        }
        vs_dom_close(d);
        s = topo_str(st, dname);
        is_str(s, "root beta mid alpha zeta", "store %d: siblings created in one second list newest first", k);
        free(s);
    }
    p = path_in("sq0", "snapshots/alpha.xml");
    vs_file_read(p, 1 << 20, &data, NULL, NULL);
    ok(data && strncmp(data, "<?vsnap-seq 3?>\n<domainsnapshot>\n", 33) == 0,
       "the file starts with its sequence number");
    free(data);
    data = NULL;
    d = vs_dom_open(st, "sq0", VS_LOCK_EXCLUSIVE, &err);
    {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, "alpha", &err);
        char *text = def ? vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE) : NULL;

        ok(text && strncmp(text, "<domainsnapshot>\n", 17) == 0 && !strstr(text, "vsnap-seq"),
           "read back and printed, the snapshot shows no sequence number");
        /* redefining it keeps its number */
        ok(def && vs_dom_write_snapshot(d, def, &err) == 0, "rewrite alpha");
        free(text);
        vs_snapshot_def_free(def);
    }
    vs_dom_close(d);
    vs_file_read(p, 1 << 20, &data, NULL, NULL);
    ok(data && strncmp(data, "<?vsnap-seq 3?>\n", 16) == 0, "... it keeps number 3");
    free(data);
    data = NULL;
    free(p);
    s = topo_str(st, "sq0");
    is_str(s, "root beta mid alpha zeta", "... and its place");
    free(s);

    /* from a fresh index and after a rebuild */
    settle(st, "sq0");
    s = topo_str(st, "sq0");
    is_str(s, "root beta mid alpha zeta", "the order comes back from the index");
    free(s);
    p = path_in("sq0", "index");
    vs_file_read(p, 1 << 20, &data, NULL, NULL);
    ok(data && strstr(data, "\nalpha\troot\t5000\tshutoff\t--\t") && strstr(data, "\t3\t0\t0\n"),
       "the index carries the number (and the counts of children and descendants)");
    free(data);
    data = NULL;
    unlink(p);
    free(p);
    s = topo_str(st, "sq0");
    is_str(s, "root beta mid alpha zeta", "... and a rebuild reads it from the files");
    free(s);

    /* a file without a number (libvirt's, an older vsnap's) comes after
     * those with one; a new snapshot gets max + 1 even after a removal */
    p = path_in("sq0", "snapshots/old.xml");
    {
        vs_snapshot_def *def = mksnap("old", "root", 9999, "shutoff", false);
        char *text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);

        write_raw(p, text);
        free(text);
        vs_snapshot_def_free(def);
    }
    free(p);
    s = topo_str(st, "sq0");
    is_str(s, "root beta mid alpha zeta old", "a snapshot without a number lists after the numbered");
    free(s);
    d = vs_dom_open(st, "sq0", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_remove_snapshot(d, "beta", &err);
    put_snap(d, "new", "root", 1, "shutoff", false);
    vs_dom_close(d);
    s = topo_str(st, "sq0");
    is_str(s, "root new mid alpha zeta old", "a new snapshot is the newest, whatever its time");
    free(s);
    p = path_in("sq0", "snapshots/new.xml");
    vs_file_read(p, 1 << 20, &data, NULL, NULL);
    ok(data && strncmp(data, "<?vsnap-seq 5?>\n", 16) == 0, "... numbered one past the highest left");
    free(data);
    data = NULL;
    free(p);
    /* rewriting a file without a number does not give it one */
    d = vs_dom_open(st, "sq0", VS_LOCK_EXCLUSIVE, &err);
    put_snap(d, "old", "root", 9999, "shutoff", false);
    vs_dom_close(d);
    p = path_in("sq0", "snapshots/old.xml");
    vs_file_read(p, 1 << 20, &data, NULL, NULL);
    ok(data && strncmp(data, "<domainsnapshot>", 16) == 0, "rewritten, an unnumbered file stays unnumbered");
    free(data);
    free(p);
}

/* ---- journal and overlay registry ------------------------------------ */

/* Whether another opening of `dom`'s lock file could take it now. */
static bool
lock_free(const char *dom)
{
    char *lp = path_in(dom, "lock");
    int fd = open(lp, O_RDONLY | O_CLOEXEC);
    bool yes = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

    if (fd >= 0)
        close(fd);
    free(lp);
    return yes;
}

/* A held store keeps what a command string opens: the lock, the tree (kept
 * linked as snapshots are added), the index (written once, at the release);
 * define and undefine still take the domain over. */
static void
test_hold(vs_store *st)
{
    vs_domain_def *def = mkdom("hd", "77777777-2222-3333-4444-5555555555a0");
    char *ip = path_in("hd", "index"), *kept, *fresh, *fp;
    vs_dom *d, *e;
    vs_error err;
    struct stat sb;
    int wait = st->lock_wait;

    vs_error_clear(&err);
    ok(vs_store_define(st, def, NULL, &err) == 0, "hold: define (%s)", err.msg);
    vs_store_hold(st);
    d = vs_dom_open(st, "hd", VS_LOCK_EXCLUSIVE, &err);
    ok(d && put_snap(d, "a", NULL, 10, "shutoff", false) == 0 &&
       put_snap(d, "b", "a", 20, "shutoff", false) == 0 &&
       put_snap(d, "c", "a", 20, "shutoff", false) == 0 &&
       put_snap(d, "d", "c", 5, "shutoff", false) == 0 &&
       put_snap(d, "b", "a", 20, "shutoff", true) == 0, "hold: snapshots written");
    vs_dom_close(d);
    ok(stat(ip, &sb) < 0, "hold: the index waits for the release");
    ok(!lock_free("hd"), "hold: the lock stays between commands");
    e = vs_dom_open(st, "hd", VS_LOCK_SHARED, &err);
    ok(e == d, "hold: the next command gets the same opening");
    vs_dom_close(e);
    kept = topo_str(st, "hd");
    vs_store_release(st);
    ok(stat(ip, &sb) == 0 && lock_free("hd"), "hold: released: index written, lock free");
    fresh = topo_str(st, "hd");
    is_str(kept, fresh, "hold: the tree kept linked is the tree read again");
    free(kept);
    free(fresh);

    /* undefine and define in the middle of a string */
    st->lock_wait = 0;
    vs_store_hold(st);
    d = vs_dom_open(st, "hd", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_close(d);
    vs_error_clear(&err);
    ok(vs_store_undefine(st, "hd", true, &err) == 0, "hold: undefine takes a kept domain (%s)",
       err.msg);
    ok(vs_dom_open(st, "hd", VS_LOCK_SHARED, &err) == NULL && err.code == VS_ERR_NO_DOMAIN,
       "hold: ... and it is gone");
    vs_error_clear(&err);
    ok(vs_store_define(st, def, NULL, &err) == 0, "hold: define again (%s)", err.msg);
    d = vs_dom_open(st, "hd", VS_LOCK_EXCLUSIVE, &err);
    vs_dom_close(d);
    vs_error_clear(&err);
    ok(vs_store_define(st, def, NULL, &err) == 0, "hold: define over a kept domain (%s)", err.msg);
    vs_store_release(st);
    st->lock_wait = wait;
    fp = path_in("hd", "snapshots");
    ok(stat(fp, &sb) < 0, "hold: the new domain has no snapshots");
    free(fp);
    vs_store_undefine(st, "hd", true, NULL);
    vs_domain_def_free(def);
    free(ip);
}

/* Every snapshot's brief and the names with a few prefixes, as the index
 * gives them without the tree, against the tree's: one line per snapshot. */
static char *
briefs(vs_store *st, const char *dom, bool from_tree)
{
    static const char *const prefixes[] = { "", "b", "c1", "zz" };
    vs_dom *d = vs_dom_open(st, dom, VS_LOCK_SHARED, NULL);
    vs_snap_tree *t;
    vs_buf b = VS_BUF_INIT;
    char **names = NULL;
    size_t i, k;

    if (!d)
        return vs_xstrdup("(open failed)");
    /* the names from a separate opening, so that no tree is loaded yet */
    {
        vs_dom *o = vs_dom_open(st, dom, VS_LOCK_SHARED, NULL);

        if (o && !from_tree)
            vs_dom_snapshot_names(o, "", &names, NULL);
        vs_dom_close(o);
    }
    if (from_tree || !names) {
        vs_strv_free(names);
        names = NULL;
        t = vs_dom_tree(d, NULL);
        names = vs_xcalloc(t ? t->n + 1 : 1, sizeof(*names));
        for (i = 0; t && i < t->n; i++)
            names[i] = vs_xstrdup(t->e[i].name);
        qsort(names, vs_strv_len(names), sizeof(*names), cmp_name_str);
    }
    for (i = 0; names[i]; i++) {
        vs_snap_brief br;
        int r = vs_dom_snapshot_brief(d, names[i], &br, NULL);

        vs_buf_addf(&b, "%s:%d:%s:%zu:%zu:%d%d\n", names[i], r, br.e.parent ? br.e.parent : "-",
                    br.nchildren, br.ndescendants, br.has_parent, br.current);
    }
    for (k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
        char **pn = NULL;

        vs_dom_snapshot_names(d, prefixes[k], &pn, NULL);
        vs_buf_addf(&b, "[%s]", prefixes[k]);
        for (i = 0; pn && pn[i]; i++)
            vs_buf_addf(&b, " %s", pn[i]);
        vs_buf_addc(&b, '\n');
        vs_strv_free(pn);
    }
    if (!from_tree)
        vs_buf_addf(&b, "(tree loaded: %d)\n", d->tree != NULL);
    vs_strv_free(names);
    vs_dom_close(d);
    return vs_buf_steal(&b);
}

static long long
file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The index is appended to for the changes of a command and read without
 * loading the tree for one snapshot: what it answers is what the tree says,
 * after every kind of change. */
static void
test_index_append(vs_store *st)
{
    vs_domain_def *def = mkdom("ix", "77777777-2222-3333-4444-5555555555b0");
    char *ip = path_in("ix", "index"), *a, *b;
    vs_dom *d;
    vs_error err;
    long long before;
    int step;

    vs_error_clear(&err);
    vs_store_define(st, def, NULL, &err);
    vs_domain_def_free(def);
    d = vs_dom_open(st, "ix", VS_LOCK_EXCLUSIVE, &err);
    put_snap(d, "a", NULL, 1, "shutoff", false);
    put_snap(d, "b1", "a", 2, "shutoff", false);
    put_snap(d, "b2", "a", 3, "shutoff", false);
    put_snap(d, "c1", "b1", 4, "shutoff", false);
    put_snap(d, "c2", "b1", 5, "shutoff", false);
    put_snap(d, "d1", "c1", 6, "shutoff", false);
    vs_dom_set_current(d, "c1", &err);
    vs_dom_close(d);
    settle(st, "ix");
    for (step = 0; step < 7; step++) {
        before = file_size(ip);
        d = vs_dom_open(st, "ix", VS_LOCK_EXCLUSIVE, &err);
        vs_dom_tree(d, &err);
        switch (step) {
        case 0: put_snap(d, "e1", "d1", 7, "shutoff", false); break;            /* a leaf, deep */
        case 1: put_snap(d, "b3", "a", 8, "running", false); break;             /* a leaf, high */
        case 2: put_snap(d, "c2", "b2", 5, "shutoff", false); break;            /* moved */
        case 3: vs_dom_remove_snapshot(d, "e1", &err); break;                    /* a leaf gone */
        case 4: put_snap(d, "d1", "b1", 6, "shutoff", true); break;            /* moved up */
        case 5: vs_dom_remove_snapshot(d, "c1", &err); break;                    /* childless now */
        case 6: put_snap(d, "c1", "b3", 9, "shutoff", false); break;            /* back, elsewhere */
        }
        vs_dom_close(d);
        ok(file_size(ip) > before, "index append %d: the index grew (%lld -> %lld)", step, before,
           file_size(ip));
        a = briefs(st, "ix", false);
        b = briefs(st, "ix", true);
        ok(strstr(a, "(tree loaded: 0)") != NULL, "index append %d: answered without the tree", step);
        *strstr(a, "(tree loaded:") = '\0';
        is_str(a, b, "index append %d: the index answers as the tree does", step);
        free(a);
        free(b);
    }
    {
        char *data = NULL;
        size_t len = 0;

        vs_file_read(ip, 1 << 20, &data, &len, NULL);
        ok(data && strstr(data, "\n+c1\tb3\t9\t") && strstr(data, "\n-e1\n"),
           "the changes are appended lines");
        free(data);
    }

    /* a transaction cut short (a crash while appending) is not trusted */
    {
        FILE *f = fopen(ip, "a");

        fputs("+zz\ta\t1\tshutoff\t--\t1\t1\t1\t0\t0\n", f);
        fclose(f);
    }
    a = briefs(st, "ix", false);
    ok(strstr(a, "\nzz:") == NULL && strstr(a, "[zz]\n"), "a transaction without its commit record is ignored");
    free(a);
    /* a damaged index: the tree decides */
    write_raw(ip, "vsnap-index 3 000000000040 000000000099\nbroken\n");
    a = briefs(st, "ix", false);
    b = briefs(st, "ix", true);
    *strstr(a, "(tree loaded:") = '\0';
    is_str(a, b, "a damaged index: the answers come from the tree");
    free(a);
    free(b);
    vs_store_undefine(st, "ix", true, NULL);
    free(ip);
}

static void
test_journal_registry(vs_store *st)
{
    vs_error err;
    vs_dom *d = vs_dom_open(st, "vm2", VS_LOCK_EXCLUSIVE, &err);
    char *text = NULL, **paths = NULL, *p, *data = NULL;
    size_t len = 7;
    char *two[] = { "/img/a.s1", "/img/b c", NULL }, *bad[] = { "rel/x", NULL };
    int e;

    if (!d) {
        ok(0, "open vm2");
        return;
    }
    for (e = 0; e < VS_DOM_NENTRIES; e++) {
        char *got = vs_dom_entry_path(d, (vs_dom_entry)e), *want = path_in("vm2", vs_dom_layout[e].name);

        is_str(got, want, "layout entry %d is %s", e, vs_dom_layout[e].name);
        free(got);
        free(want);
    }
    ok(!vs_dom_journal_exists(d), "no journal");
    ok(vs_dom_journal_load(d, &text, &len, &err) == 0 && !text, "load: none, *text NULL");
    ok(vs_dom_journal_remove(d, &err) == 0, "removing an absent journal is fine");
    ok(vs_dom_journal_store(d, "{\"x\":1}", 7, &err) == 0 && vs_dom_journal_exists(d), "store");
    p = path_in("vm2", "journal");
    ok(file_mode(p) == 0600, "journal is 0600");
    ok(vs_dom_journal_load(d, &text, &len, &err) == 0 && text && len == 7 && strcmp(text, "{\"x\":1}") == 0,
       "load gives it back");
    free(text);
    ok(vs_dom_journal_remove(d, &err) == 0 && !vs_dom_journal_exists(d) && !vs_file_exists(p),
       "remove");
    free(p);

    ok(vs_dom_registry_load(d, &paths, &err) == 0 && paths && !paths[0], "registry: missing is empty");
    vs_strv_free(paths);
    ok(vs_dom_registry_store(d, two, &err) == 0, "store two paths");
    p = path_in("vm2", "overlays");
    vs_file_read(p, 1 << 10, &data, NULL, NULL);
    is_str(data, "/img/a.s1\n/img/b c\n", "one path per line");
    free(data);
    ok(vs_dom_registry_load(d, &paths, &err) == 0 && vs_strv_len(paths) == 2 &&
       strcmp(paths[1], "/img/b c") == 0, "load gives them back");
    vs_strv_free(paths);
    ok(vs_dom_registry_store(d, bad, &err) < 0 && err.code == VS_ERR_INTERNAL, "a relative path is refused");
    ok(vs_file_exists(p), "... the registry kept");
    ok(vs_dom_registry_store(d, NULL, &err) == 0 && !vs_file_exists(p), "storing none removes the file");
    free(p);
    ok(vs_dom_check_writable(d, &err) == 0, "check_writable on a writable domain");
    vs_dom_close(d);
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-store.XXXXXX";
    const char *tmp = getenv("TMPDIR");
    vs_store *st;
    vs_error err;
    char *base;

    base = tmp && *tmp ? vs_xasprintf("%s/vsnap-test-store.XXXXXX", tmp) : vs_xstrdup(tmpl);
    if (!mkdtemp(base)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    root = vs_path_join(base, "root");
    umask(022);   /* modes must not depend on the caller's umask */
    st = vs_store_open(root, VS_STORE_MAY_BE_ABSENT, &err);
    ok(st != NULL, "store opens without creating anything");
    ok(!vs_file_exists(root), "... root not created yet");
    ok(vs_store_open("", 0, &err) == NULL, "empty root refused");

    test_define(st);
    test_open(st);
    test_snapshots(st);
    test_index(st);
    test_inconsistent(st);
    test_lock(st);
    test_journal_registry(st);
    test_undefine(st);
    test_big(st);
    test_root();
    test_links(st);
    test_damaged(st);
    test_seq(st);
    test_hold(st);
    test_index_append(st);

    vs_store_free(st);
    rm_rf(base);
    free(root);
    free(base);
    return tap_done() || tap_failed != 0;
}
