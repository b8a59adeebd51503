/* Unit tests: error, mem, buf, path, lock. */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "lock.h"
#include "mem.h"
#include "path.h"
#include "../tap.h"

static char *scratch;

static void
test_error(void)
{
    vs_error e;

    vs_error_clear(&e);
    ok(e.code == VS_ERR_OK && e.msg[0] == '\0', "cleared error is empty");
    ok(vs_error_set(&e, VS_ERR_XML, "bad %s", "thing") == -1, "set returns -1");
    is_str(e.msg, "XML error: bad thing", "XML prefix");
    vs_error_set(&e, VS_ERR_PLAIN, "plain");
    is_str(e.msg, "plain", "PLAIN has no prefix");
    vs_error_set(&e, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", "x");
    is_str(e.msg, "Domain snapshot not found: no domain snapshot with matching name 'x'",
           "NO_SNAPSHOT prefix");
    vs_error_set(&e, VS_ERR_OPERATION_INVALID, "y");
    is_str(e.msg, "Requested operation is not valid: y", "OPERATION_INVALID prefix");
    vs_error_set(&e, VS_ERR_SCHEMA, "z");
    is_str(e.msg, "XML document failed to validate against schema: z", "SCHEMA prefix");
    is_str(vs_error_prefix(VS_ERR_BUSY), "", "BUSY has no prefix");
    is_str(vs_error_prefix(VS_ERR_REVERT_FORCE), "revert requires force: ", "REVERT_FORCE prefix");

    vs_error_sys(&e, ENOENT, "Failed to open file '%s'", "/x");
    is_str(e.msg, "Failed to open file '/x': No such file or directory", "sys error text");
    ok(e.code == VS_ERR_SYSTEM && e.sys_errno == ENOENT, "sys error code and errno");

    vs_error_set(&e, VS_ERR_INTERNAL, "line1\nline2\tx\r\x01\x1b[31m \n\n  ");
    is_str(e.msg, "internal error: line1 line2 x \\x01\\x1b[31m", "message sanitised to one line");
    ok(strchr(e.msg, '\n') == NULL, "no newline in message");
    ok(vs_error_set(NULL, VS_ERR_PLAIN, "ignored") == -1, "NULL err accepted");
    vs_error_clear(NULL);

    {
        char big[3 * VS_ERROR_MSG_MAX];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        vs_error_set(&e, VS_ERR_PLAIN, "%s", big);
        ok(strlen(e.msg) == VS_ERROR_MSG_MAX - 1, "long message truncated to the buffer");
    }
}

static void
test_mem(void)
{
    char **v = NULL;
    int *arr = NULL;
    size_t cap = 0;
    char *s;

    vs_strv_push(&v, "a");
    vs_strv_push(&v, "b");
    ok(vs_strv_len(v) == 2 && strcmp(v[1], "b") == 0 && v[2] == NULL, "strv push");
    vs_strv_free(v);
    ok(vs_strv_len(NULL) == 0, "strv len of NULL");
    ok(vs_xstrdup(NULL) == NULL, "xstrdup(NULL)");
    s = vs_xstrndup("abcdef", 3);
    is_str(s, "abc", "xstrndup");
    free(s);
    s = vs_xasprintf("%d-%s", 7, "x");
    is_str(s, "7-x", "xasprintf");
    free(s);
    vs_xgrow(&arr, &cap, 0, sizeof(*arr));
    ok(cap > 0 && arr, "grow from empty");
    vs_xgrow(&arr, &cap, 100, sizeof(*arr));
    ok(cap > 100 && arr[100] == 0, "grow to index 100, zeroed");
    arr[100] = 5;
    free(arr);
}

static void
test_buf(void)
{
    vs_buf b = VS_BUF_INIT;
    char *s;

    is_str(vs_buf_str(&b), "", "empty buffer is \"\"");
    s = vs_buf_steal(&b);
    is_str(s, "", "steal of empty buffer");
    free(s);
    vs_buf_add(&b, "a");
    vs_buf_addc(&b, 'b');
    vs_buf_addn(&b, "cdef", 2);
    vs_buf_addf(&b, "%03d", 7);
    vs_buf_indent(&b, 2);
    vs_buf_add(&b, "|");
    is_str(vs_buf_str(&b), "abcd007  |", "add, addc, addn, addf, indent");
    ok(b.len == 10, "length tracked");
    vs_buf_reset(&b);
    vs_buf_add_xml_escaped(&b, "<a href=\"x\">Tom's & co</a>\t\n\r\x01\x1f end");
    is_str(vs_buf_str(&b),
           "&lt;a href=&quot;x&quot;&gt;Tom&apos;s &amp; co&lt;/a&gt;\t\n\r end",
           "xml escaping, C0 controls dropped");
    vs_buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        vs_buf_add(&b, "0123456789");
    ok(b.len == 100000 && strlen(vs_buf_str(&b)) == 100000, "large buffer");
    s = vs_buf_steal(&b);
    ok(b.data == NULL && b.len == 0, "steal resets");
    free(s);
}

static void
name_bad(const char *what, const char *name, const char *want, const char *label)
{
    vs_error e;

    vs_error_clear(&e);
    ok(vs_name_check(what, name, &e) == -1, "refused: %s", label);
    is_str(e.msg, want, "message: %s", label);
}

static void
test_names(void)
{
    char longname[300];
    const char *good[] = { "s1", "my snap name", "a.b", "x..y", "-dash", "ünïcödé",
                           "1795626230", "a b,c;d'e\"f", NULL };
    vs_error e;

    for (int i = 0; good[i]; i++)
        ok(vs_name_check("snapshot", good[i], &e) == 0, "accepted: '%s'", good[i]);
    memset(longname, 'x', 255);
    longname[255] = '\0';
    ok(vs_name_check("domain", longname, &e) == 0, "accepted: 255-byte domain name");
    longname[251] = '\0';
    ok(vs_name_check("snapshot", longname, &e) == 0, "accepted: 251-byte snapshot name");
    longname[251] = 'x';
    name_bad("snapshot", longname,
             "invalid snapshot name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': "
             "name can't be longer than 251 bytes", "252-byte snapshot name");

    name_bad("snapshot", "a/b", "invalid snapshot name 'a/b': name can't contain '/'", "slash");
    name_bad("snapshot", "/", "invalid snapshot name '/': name can't contain '/'", "lone slash");
    name_bad("snapshot", "../x", "invalid snapshot name '../x': name can't contain '/'", "../x");
    name_bad("snapshot", ".", "invalid snapshot name '.': name can't start with '.'", "dot");
    name_bad("snapshot", "..", "invalid snapshot name '..': name can't start with '.'", "dot-dot");
    name_bad("snapshot", ".x", "invalid snapshot name '.x': name can't start with '.'", "hidden");
    name_bad("snapshot", "", "invalid snapshot name '': name can't be empty", "empty");
    name_bad("domain", "a\nb",
             "invalid domain name 'a\\x0ab': name can't contain control characters", "newline");
    name_bad("snapshot", "a\x1b[1mb",
             "invalid snapshot name 'a\\x1b[1mb': name can't contain control characters", "escape");
    name_bad("snapshot", "tab\there",
             "invalid snapshot name 'tab\\x09here': name can't contain control characters", "tab");
    name_bad("snapshot", "del\x7f",
             "invalid snapshot name 'del\\x7f': name can't contain control characters", "DEL");
    name_bad("snapshot", "a\rb",
             "invalid snapshot name 'a\\x0db': name can't contain control characters", "CR");
    name_bad("snapshot", "\x01",
             "invalid snapshot name '\\x01': name can't contain control characters", "SOH");
    name_bad("snapshot", "csi\xc2\x9b" "1m",
             "invalid snapshot name 'csi\\xc2\\x9b1m': name can't contain control characters",
             "C1 control (U+009B) in UTF-8");
    ok(vs_name_check("snapshot", "nbsp\xc2\xa0\xc3\xa9", &e) == 0,
       "accepted: other non-ASCII characters (U+00A0, U+00E9)");
    longname[255] = 'x';
    longname[256] = '\0';
    name_bad("domain", longname,
             "invalid domain name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': "
             "name can't be longer than 255 bytes", "256 bytes");
    name_bad("domain", "a/b", "invalid domain name 'a/b': name can't contain '/'", "domain wording");
}

static void
test_paths(void)
{
    char *s;
    char *cwd = getcwd(NULL, 0);
    char *want;

    s = vs_path_join("/a", "b");
    is_str(s, "/a/b", "join");
    free(s);
    s = vs_path_join("/a/", "b");
    is_str(s, "/a/b", "join with trailing slash");
    free(s);

    s = vs_path_absolute("/x//y/./z/");
    is_str(s, "/x/y/z", "absolute path cleaned");
    free(s);
    s = vs_path_absolute("img.qcow2");
    want = vs_xasprintf("%s/img.qcow2", strcmp(cwd, "/") == 0 ? "" : cwd);
    is_str(s, want, "relative path made absolute");
    free(s);
    free(want);
    s = vs_path_absolute("./-U");
    ok(s[0] == '/' && strstr(s, "/-U") != NULL, "option-like path made absolute");
    free(s);
    free(cwd);

    setenv("VSNAP_DIR", "/tmp/vd", 1);
    s = vs_default_root("/override");
    is_str(s, "/override", "root: -d wins");
    free(s);
    s = vs_default_root(NULL);
    is_str(s, "/tmp/vd", "root: $VSNAP_DIR");
    free(s);
    unsetenv("VSNAP_DIR");
    s = vs_default_root(NULL);
    if (geteuid() == 0) {
        is_str(s, "/var/lib/vsnap", "root: root's default");
    } else {
        ok(strstr(s, "/vsnap") != NULL, "root: user default %s", s);
    }
    free(s);
}

static char *
slurp(const char *path)
{
    char *d = NULL;
    size_t n;

    if (vs_file_read(path, 1 << 20, &d, &n, NULL) < 0)
        return NULL;
    return d;
}

/* Entries of dir other than . and .. */
static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* As root, permissions do not stop writes: drop to nobody in a child. */
static int
write_as_nobody(const char *path)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(3);
        _exit(vs_file_write_atomic(path, "new", 3, 0600, NULL) == 0 ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void
test_files(void)
{
    char *dir = vs_path_join(scratch, "files");
    char *sub = vs_path_join(scratch, "deep/a/b/c");
    char *f = vs_path_join(dir, "meta.xml");
    char *ro = vs_path_join(scratch, "ro");
    char *rof = vs_path_join(ro, "keep");
    char *asdir = vs_path_join(dir, "adir");
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    vs_error e;
    int r;

    ok(vs_mkdir_p(dir, 0700, &e) == 0, "mkdir_p");
    ok(vs_mkdir_p(sub, 0700, &e) == 0 && stat(sub, &st) == 0 && S_ISDIR(st.st_mode),
       "mkdir_p of several levels");
    ok(stat(sub, &st) == 0 && (st.st_mode & 07777) == 0700, "mkdir_p mode 0700");
    ok(vs_mkdir_p(sub, 0700, &e) == 0, "mkdir_p of an existing dir");

    ok(vs_file_write_atomic(f, "hello\n", 6, 0600, &e) == 0, "atomic write");
    ok(stat(f, &st) == 0 && (st.st_mode & 07777) == 0600, "file mode 0600");
    data = slurp(f);
    is_str(data, "hello\n", "content written");
    free(data);
    ok(vs_file_write_atomic(f, "second", 6, 0600, &e) == 0, "atomic replace");
    data = slurp(f);
    is_str(data, "second", "content replaced");
    free(data);
    ok(count_entries(dir) == 1, "no temp file left behind");
    ok(vs_file_write_atomic(f, "", 0, 0644, &e) == 0 && stat(f, &st) == 0 &&
       st.st_size == 0 && (st.st_mode & 07777) == 0644, "empty file, mode 0644");

    /* the target is a directory: rename fails, the directory stays, no temp */
    mkdir(asdir, 0700);
    ok(vs_file_write_atomic(asdir, "x", 1, 0600, &e) == -1, "write over a directory fails");
    ok(strstr(e.msg, asdir) != NULL, "message names the path: %s", e.msg);
    ok(stat(asdir, &st) == 0 && S_ISDIR(st.st_mode), "directory kept");
    ok(count_entries(dir) == 2, "no temp file after failure");

    /* an unwritable directory: the old file is kept */
    mkdir(ro, 0755);
    vs_file_write_atomic(rof, "old", 3, 0644, &e);
    chmod(ro, 0555);
    r = write_as_nobody(rof);
    ok(r == 1, "write in an unwritable dir fails (%d)", r);
    data = slurp(rof);
    is_str(data, "old", "old file intact");
    free(data);
    ok(count_entries(ro) == 1, "no temp file in the unwritable dir");
    chmod(ro, 0755);

    ok(vs_file_write_atomic("/nonexistent-dir/x", "x", 1, 0600, &e) == -1 &&
       e.code == VS_ERR_SYSTEM, "write into a missing dir fails");

    /* reading */
    ok(vs_file_read(f, 10, &data, &len, &e) == 0 && len == 0 && data && data[0] == '\0',
       "read empty file");
    free(data);
    vs_file_write_atomic(f, "0123456789", 10, 0600, &e);
    ok(vs_file_read(f, 10, &data, &len, &e) == 0 && len == 10, "read at exactly the limit");
    free(data);
    ok(vs_file_read(f, 9, &data, &len, &e) == -1 && data == NULL, "read over the limit fails");
    {
        char *want = vs_xasprintf("file '%s' is larger than 9 bytes", f);
        is_str(e.msg, want, "size limit message");
        free(want);
    }
    ok(vs_file_read("/dev/zero", 4096, &data, &len, &e) == -1, "unbounded stream stops at the limit");
    ok(strstr(e.msg, "larger than 4096 bytes") != NULL, "stream limit message: %s", e.msg);
    ok(vs_file_read("/x-does-not-exist", 10, &data, &len, &e) == -1, "read of a missing file");
    is_str(e.msg, "Failed to open file '/x-does-not-exist': No such file or directory",
           "missing file message (virsh wording)");
    ok(e.sys_errno == ENOENT, "errno kept");

    ok(vs_file_exists(f) && vs_is_regular_file(f), "exists / regular");
    ok(vs_file_exists(dir) && !vs_is_regular_file(dir), "a directory is not regular");
    ok(vs_file_remove(f, &e) == 0 && !vs_file_exists(f), "remove");
    ok(vs_file_remove(f, &e) == 0, "remove of a missing file is fine");
    ok(vs_dir_sync(dir, &e) == 0, "dir sync");
    ok(vs_dir_sync("/x-does-not-exist", &e) == -1, "dir sync of a missing dir fails");

    free(dir);
    free(sub);
    free(f);
    free(ro);
    free(rof);
    free(asdir);
}

static void
test_lock(void)
{
    char *path = vs_path_join(scratch, "lock");
    vs_error e;
    int fd, fd2, st;
    struct stat sb;
    pid_t pid;

    fd = vs_lock_acquire(path, "vm1", VS_LOCK_EXCLUSIVE, 0, &e);
    ok(fd >= 0, "exclusive lock");
    ok(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600, "lock file mode 0600");
    ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "lock fd is close-on-exec");
    /* flock locks belong to the open file description: a second open conflicts */
    fd2 = vs_lock_acquire(path, "vm1", VS_LOCK_SHARED, 0, &e);
    ok(fd2 == -1 && e.code == VS_ERR_BUSY, "second lock refused");
    is_str(e.msg, "domain 'vm1' is busy: another vsnap command holds its lock; "
           "nothing was changed, it is safe to retry", "busy message: safe to retry");
    fd2 = vs_lock_acquire(path, "vm1", VS_LOCK_EXCLUSIVE, 1, &e);
    ok(fd2 == -1 && e.code == VS_ERR_BUSY, "busy after waiting 1 s");
    is_str(e.msg, "domain 'vm1' is busy: another vsnap command held its lock for the 1 second "
           "vsnap waited; nothing was changed, it is safe to retry",
           "timeout message: how long it waited, safe to retry");

    /* a holder that lets go while we wait */
    vs_lock_release(fd);
    pid = fork();
    if (pid == 0) {
        int cfd = vs_lock_acquire(path, "vm1", VS_LOCK_EXCLUSIVE, 0, NULL);
        usleep(300 * 1000);
        vs_lock_release(cfd);
        _exit(cfd >= 0 ? 0 : 1);
    }
    usleep(100 * 1000);
    fd = vs_lock_acquire(path, "vm1", VS_LOCK_EXCLUSIVE, 5, &e);
    ok(fd >= 0, "lock acquired once the holder releases it");
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child held the lock");
    vs_lock_release(fd);

    fd = vs_lock_acquire(path, "vm1", VS_LOCK_SHARED, 0, &e);
    fd2 = vs_lock_acquire(path, "vm1", VS_LOCK_SHARED, 0, &e);
    ok(fd >= 0 && fd2 >= 0, "two shared locks coexist");
    vs_lock_release(fd);
    vs_lock_release(fd2);
    ok(vs_lock_acquire("/x-does-not-exist/lock", "vm1", VS_LOCK_SHARED, 0, &e) == -1 &&
       e.code == VS_ERR_SYSTEM, "lock in a missing dir fails");
    free(path);
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-base.XXXXXX";
    char *cmd[] = { "rm", "-rf", NULL, NULL };

    if (!(scratch = mkdtemp(tmpl))) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    chmod(scratch, 0755);   /* the unprivileged child must reach ro/ */
    test_error();
    test_mem();
    test_buf();
    test_names();
    test_paths();
    test_files();
    test_lock();

    cmd[2] = scratch;
    if (fork() == 0) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    wait(NULL);
    tap_done();
    return tap_failed ? 1 : 0;
}
