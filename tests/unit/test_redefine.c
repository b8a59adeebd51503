/* snapshot-create --redefine against a real store: the project's corpus
 * tests/corpus/redefine (virsh-behaviour.md B.4, with B.6's parent checks and
 * B.3's alignment defaults). Every refused redefine leaves the metadata as it
 * was. No image is touched by a redefine: the disks are empty files. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "corpus.h"
#include "buf.h"
#include "mem.h"
#include "path.h"
#include "snapshot_ops.h"
#include "spawn.h"
#include "store.h"

static char *scratch;        /* the case's directory: disks, and meta/ */
static char *domain_text;    /* domain.xml with @DIR@ replaced */

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under dir (but the lock and the derived index) with its
 * content, in name order: equal digests mean nothing was written. */
static void
digest(vs_buf *b, const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, i;

    while (dh && (de = readdir(dh))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "lock") == 0 || strcmp(de->d_name, "index") == 0)
            continue;
        names = vs_xreallocarray(names, n + 1, sizeof(*names));
        names[n++] = vs_xstrdup(de->d_name);
    }
    if (dh)
        closedir(dh);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n; i++) {
        char *path = vs_xasprintf("%s/%s", dir, names[i]), *data = NULL;
        struct stat st;

        vs_buf_addf(b, "== %s\n", path);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            digest(b, path);
        else if (vs_file_read(path, 1 << 24, &data, NULL, NULL) == 0)
            vs_buf_add(b, data);
        free(data);
        free(path);
        free(names[i]);
    }
    free(names);
}

static char *
meta_digest(void)
{
    vs_buf b = VS_BUF_INIT;
    char *dir = vs_xasprintf("%s/meta", scratch);

    digest(&b, dir);
    free(dir);
    return vs_buf_steal(&b);
}

/* @DIR@ and a line "@DOMAIN@" (domain.xml indented two spaces) replaced. */
static char *
expand(char *s)
{
    vs_buf b = VS_BUF_INIT;
    const char *p;

    if (!s)
        return NULL;
    for (p = domain_text; *p; ) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);

        vs_buf_add(&b, "  ");
        vs_buf_addn(&b, p, len);
        p += len;
    }
    s = corpus_subst(s, "@DOMAIN@\n", vs_buf_str(&b));
    vs_buf_reset(&b);
    return corpus_subst(s, "@DIR@", scratch);
}

static int
rm_rf(const char *path)
{
    const char *argv[] = { "rm", "-rf", path, NULL };

    return vs_spawn_check(argv, NULL, NULL);
}

static void
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd >= 0)
        close(fd);
}

/* A fresh store with the domain defined and its (empty) disk files. */
static vs_dom *
fresh_domain(vs_store **st, vs_error *err)
{
    char *root = vs_xasprintf("%s/meta", scratch), *p;
    vs_domain_def *def;
    vs_dom *d = NULL;
    bool created;

    rm_rf(root);
    p = vs_xasprintf("%s/vm.qcow2", scratch);
    touch(p);
    free(p);
    p = vs_xasprintf("%s/data.qcow2", scratch);
    touch(p);
    free(p);
    def = vs_domain_def_parse(domain_text, strlen(domain_text), "domain.xml", err);
    *st = vs_store_open(root, 0, err);
    if (def && *st && vs_store_define(*st, def, &created, err) == 0)
        d = vs_dom_open(*st, "vm", VS_LOCK_EXCLUSIVE, err);
    vs_domain_def_free(def);
    free(root);
    return d;
}

static int
redefine(vs_dom *d, const corpus *c, const char *file, unsigned flags, char **name, vs_error *err)
{
    char *f = vs_xasprintf("%s.xml", file), *xml = expand(corpus_read(c, f));
    int r;

    if (!xml) {
        free(f);
        return vs_error_set(err, VS_ERR_INTERNAL, "corpus file %s missing", file);
    }
    r = vs_snapshot_create(d, xml, strlen(xml), f, VS_CREATE_REDEFINE | flags, name, err);
    free(xml);
    free(f);
    return r;
}

/* The case's flags; false when a word is unknown. */
static bool
case_flags(const char *words, unsigned *flags)
{
    char **w = vs_split_commas(words);
    bool good = true;
    size_t i;

    *flags = 0;
    for (i = 0; w[i]; i++) {
        if (strcmp(w[i], "current") == 0)
            *flags |= VS_CREATE_CURRENT;
        else if (strcmp(w[i], "disk-only") == 0)
            *flags |= VS_CREATE_DISK_ONLY;
        else if (strcmp(w[i], "-") != 0)
            good = false;
    }
    vs_strv_free(w);
    return good;
}

static void
run_case(const corpus *c, const corpus_case *cc)
{
    const char *n = cc->name, *in = corpus_key(cc, "in");
    char *infile = in ? vs_xstrndup(in, strlen(in) - (strlen(in) > 4 ? 4 : 0)) : vs_xstrdup(n);
    char *want_err = expand(corpus_chomp(corpus_file(c, cc, ".err")));
    char *want = expand(corpus_file(c, cc, ".out")), *fname = vs_xasprintf("%s.xml", infile);
    char *input = expand(corpus_read(c, fname)), *before = NULL, *after = NULL, *got = NULL;
    char *name = NULL, **setup = NULL;
    vs_store *st = NULL;
    vs_dom *d;
    vs_error err;
    unsigned flags;
    size_t i;

    vs_error_clear(&err);
    if (!input || cc->nwords != 2 || !case_flags(corpus_word(cc, 1), &flags) ||
        (in && strlen(in) <= 4)) {
        ok(0, "%s: manifest line %d and its input %s are usable", n, cc->line, fname);
        goto out;
    }
    if (!(d = fresh_domain(&st, &err))) {
        ok(0, "%s: domain defined (%s)", n, err.msg);
        goto out;
    }
    if (strcmp(corpus_word(cc, 0), "-") != 0) {
        setup = vs_split_commas(corpus_word(cc, 0));
        for (i = 0; setup[i]; i++) {
            char *plus = strchr(setup[i], '+');
            unsigned sf = plus && strcmp(plus, "+current") == 0 ? VS_CREATE_CURRENT : 0;

            if (plus)
                *plus = '\0';
            vs_error_clear(&err);
            if (redefine(d, c, setup[i], sf, &name, &err) < 0)
                ok(0, "%s: setup: redefine %s (%s)", n, setup[i], err.msg);
            free(name);
            name = NULL;
        }
    }

    before = meta_digest();
    vs_error_clear(&err);
    if (redefine(d, c, infile, flags, &name, &err) < 0) {
        ok(want_err != NULL, "%s: redefine %s: %s", n, want_err ? "refused" : "succeeds", err.msg);
        if (want_err)
            is_str(err.msg, want_err, "%s: message", n);
        after = meta_digest();
        ok(strcmp(before, after) == 0, "%s: the metadata is unchanged", n);
    } else if (want_err) {
        ok(0, "%s: refused (it succeeded)", n);
    } else {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, name, &err);

        ok(1, "%s: redefine succeeds", n);
        got = def ? vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE) : vs_xstrdup(err.msg);
        is_str(got, want ? want : input, "%s: snapshot-dumpxml shows %s", n,
               want ? "NAME.out" : "the input");
        vs_snapshot_def_free(def);
    }

    for (i = 0; i < cc->nkeys; i++) {
        const char *k = cc->keys[i], *v = cc->values[i];

        if (strcmp(k, "current") == 0) {
            char *cur = vs_dom_current(d);

            is_str(cur ? cur : "-", v, "%s: current snapshot", n);
            free(cur);
        } else if (strcmp(k, "parent") == 0 && strchr(v, ':')) {
            char *child = vs_xstrndup(v, (size_t)(strchr(v, ':') - v));
            vs_snapshot_def *def = vs_dom_read_snapshot(d, child, &err);

            is_str(def ? def->parent : err.msg, strchr(v, ':') + 1, "%s: parent of %s", n, child);
            vs_snapshot_def_free(def);
            free(child);
        } else if (strcmp(k, "in") != 0) {
            ok(0, "%s: unknown key %s", n, k);
        }
    }
    vs_dom_close(d);
 out:
    vs_store_free(st);
    vs_strv_free(setup);
    free(name);
    free(before);
    free(after);
    free(got);
    free(input);
    free(fname);
    free(want);
    free(want_err);
    free(infile);
}

int
main(void)
{
    const char *t = getenv("TMPDIR");
    char *tmpl = vs_xasprintf("%s/vsnap-redefine-XXXXXX", t && *t ? t : "/tmp");
    corpus c;
    size_t i;

    if (!(scratch = mkdtemp(tmpl))) {
        ok(0, "mkdtemp");
        free(tmpl);
        return tap_done();
    }
    if (corpus_open(&c, "redefine") == 0) {
        domain_text = corpus_subst(corpus_read(&c, "domain.xml"), "@DIR@", scratch);
        ok(domain_text != NULL, "redefine corpus: domain.xml readable");
        for (i = 0; domain_text && i < c.ncases; i++)
            run_case(&c, &c.cases[i]);
    }
    corpus_free(&c);
    ok(rm_rf(scratch) == 0, "scratch directory removed");
    free(domain_text);
    free(scratch);
    return tap_done();
}
