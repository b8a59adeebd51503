/* Unit tests: the step table (every kind has a row, and validation follows
 * its columns), the journal codec (round trip, version 1, damage), what the
 * executors observe (the QMP executor's steps with QEMU gone too), and the
 * runner's finally actions, undo failures and repair by observation. Real
 * files and qemu-img in a scratch store. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "image_graph.h"
#include "journal.h"
#include "plan.h"
#include "plan_run.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "../tap.h"
#include "ext_util.h"

static vs_dom *d;

static void
open_dom(void)
{
    vs_error err;

    vs_error_clear(&err);
    if (!(d = vs_dom_open(ext_st, "vm", VS_LOCK_EXCLUSIVE, &err)))
        printf("# open: %s\n", err.msg);
}

static char *
scratch_file(const char *name, const char *content)
{
    char *p = vs_path_join(ext_imgdir, name);

    vs_file_write_atomic(p, content, strlen(content), 0600, NULL);
    return p;
}

/* ---- the table ------------------------------------------------------------ */

static void
test_table(void)
{
    vs_plan *p;
    vs_error err;
    int k;

    for (k = 0; k < VS_STEP_KIND_COUNT; k++) {
        const vs_step_kind_info *i = vs_step_info((vs_step_kind)k);

        ok(i->name && vs_step_kind_parse(i->name) == k, "kind %d has a row and a name (%s)", k,
           i->name ? i->name : "-");
        ok(!(i->replay == VS_REPLAY_NEVER && !i->undoable),
           "%s: a step that cannot be replayed can be undone", i->name);
        ok(!i->can_finally || i->replay == VS_REPLAY_SAME,
           "%s: a finally action gives the same result when it runs again", i->name);
    }
    ok(vs_step_kind_parse("no-such-kind") < 0, "an unknown name is no kind");

    /* the commit point and the columns */
    vs_error_clear(&err);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_commit_image(p, "/x/a", "qcow2", "/x/b", NULL);
    vs_plan_commit_point(p);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "cannot be undone"),
       "a commit before the commit point is refused: %s", err.msg);
    vs_plan_free(p);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_tag(p, VS_STEP_TAG_CREATE, "/x/a", "t1", NULL);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "cannot be replayed"),
       "a tag created after the commit point is refused: %s", err.msg);
    vs_plan_free(p);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_tag(p, VS_STEP_TAG_APPLY, "/x/a", NULL, NULL);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "lacks a field"),
       "a step without a field it needs is refused: %s", err.msg);
    vs_plan_free(p);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_begin_finally(p);
    vs_plan_write_domain(p, "<domain/>", "<domain/>", NULL);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "cannot be a finally action"),
       "a metadata write is no finally action: %s", err.msg);
    vs_plan_free(p);
}

/* ---- the codec -------------------------------------------------------------- */

static void
test_codec(void)
{
    vs_journal_state st = { VS_JOURNAL_COMMITTED, 2, 0, (char *)"it stopped" }, back;
    vs_plan *p = vs_plan_new("snapshot-delete", "vm", "u-u-i-d", "s1"), *q = NULL;
    vs_step *s;
    vs_error err;
    char *text, **files;
    const char *v1;

    vs_plan_create_image(p, "/x/new", "qcow2", "/x/base", "qcow2", "why 1");
    vs_plan_commit_point(p);
    s = vs_plan_remove_image(p, "/x/old", NULL);
    s->expect.exists = true;
    s->expect.dev = 7;
    s->expect.ino = 99;
    s->expect.size = 4096;
    vs_plan_write_snapshot(p, "s1", "<new/>", "<old/>", NULL);
    vs_plan_set_current(p, NULL, "s1", NULL);
    vs_plan_begin_finally(p);
    vs_plan_remove_image(p, "/x/tmp", "finally");
    text = vs_journal_encode(p, &st);
    vs_error_clear(&err);
    ok(vs_journal_decode(text, strlen(text), "(test)", &q, &back, &err) == 0 && q,
       "a journal decodes (%s)", err.msg);
    if (q) {
        ok(q->n == 4 && q->nfin == 1 && q->commit == 1 && strcmp(q->uuid, "u-u-i-d") == 0,
           "... the same steps, finally actions and commit point");
        ok(back.phase == VS_JOURNAL_COMMITTED && back.done == 2 && back.fin_done == 0 &&
           back.failure && strcmp(back.failure, "it stopped") == 0, "... the same progress");
        ok(q->steps[1].expect.exists && q->steps[1].expect.ino == 99 &&
           q->steps[1].expect.size == 4096, "... what a file was is kept");
        ok(strcmp(q->steps[2].old_text, "<old/>") == 0 && !q->steps[3].name &&
           strcmp(q->steps[3].old_name, "s1") == 0, "... the values a step replaces are kept");
        files = vs_journal_files(q);
        ok(vs_strv_len(files) == 4, "the files it names: new, base, old, tmp (%zu)",
           vs_strv_len(files));
        vs_strv_free(files);
        vs_plan_free(q);
    }
    vs_journal_state_clear(&back);
    /* a truncated journal */
    ok(vs_journal_decode(text, strlen(text) / 2, "(test)", &q, &back, &err) < 0 &&
       strstr(err.msg, "move it away only after checking"), "a truncated journal is refused: %s",
       err.msg);
    free(text);
    vs_plan_free(p);
    /* what vsnap 0.1 wrote is still read, so that an upgrade can repair it */
    v1 = "{\"vsnap-journal\":1,\"operation\":\"snapshot-revert\",\"domain\":\"vm\","
         "\"snapshot\":\"s1\",\"phase\":\"committed\",\"commit\":1,\"done\":1,\"steps\":["
         "{\"kind\":\"create-image\",\"path\":\"/x/t\",\"fmt\":\"qcow2\",\"backing\":\"/x/b\","
         "\"backing_fmt\":\"qcow2\"},{\"kind\":\"replace-image\",\"path\":\"/x/o\",\"from\":\"/x/t\"}]}";
    ok(vs_journal_decode(v1, strlen(v1), "(test)", &q, &back, &err) == 0 && q && q->n == 2 &&
       back.phase == VS_JOURNAL_COMMITTED, "a version 1 journal is read (%s)", err.msg);
    vs_plan_free(q);
    vs_journal_state_clear(&back);
}

/* ---- observations ------------------------------------------------------------- */

static void
test_observe(void)
{
    vs_exec_ctx x = { d, NULL, NULL, NULL, false };
    vs_plan *p = vs_plan_new("t", "vm", NULL, NULL);
    char *base = vs_path_join(ext_imgdir, "vda.qcow2"), *ov = vs_path_join(ext_imgdir, "ov.qcow2");
    char *other = scratch_file("other", "x"), *why = NULL;
    vs_step *s;
    vs_error err;

    vs_error_clear(&err);
    s = vs_plan_create_image(p, ov, "qcow2", base, "qcow2", NULL);
    ok(vs_exec_qemu_img.observe(&x, s, NULL) == VS_SEEN_NOT_DONE, "create: not done yet");
    ok(vs_exec_qemu_img.run(&x, s, &err) == 0, "create runs (%s)", err.msg);
    ok(vs_exec_qemu_img.observe(&x, s, NULL) == VS_SEEN_DONE, "create: done");
    ok(vs_exec_qemu_img.undo(&x, s, &err) == 0 && !vs_file_exists(ov), "create: undone");
    vs_file_write_atomic(ov, "", 0, 0600, NULL);
    ok(vs_exec_qemu_img.observe(&x, s, NULL) == VS_SEEN_UNKNOWN,
       "create: an empty file there is a create cut short");
    ok(vs_exec_qemu_img.undo(&x, s, &err) == 0 && !vs_file_exists(ov), "... and its undo removes it");
    vs_exec_create_image(ov, "qcow2", other, "raw", &err);
    ok(vs_exec_qemu_img.observe(&x, s, &why) == VS_SEEN_CONFLICT && why,
       "create: another image there is a conflict (%s)", why ? why : "");
    free(why);
    ok(vs_exec_qemu_img.undo(&x, s, &err) < 0 && vs_file_exists(ov),
       "... and its undo leaves it alone: %s", err.msg);
    unlink(ov);
    vs_plan_free(p);

    /* a removal knows the file it meant */
    p = vs_plan_new("t", "vm", NULL, NULL);
    s = vs_plan_remove_image(p, other, NULL);
    unlink(other);
    free(scratch_file("other", "another file, same name"));
    why = NULL;
    ok(vs_exec_file.observe(&x, s, &why) == VS_SEEN_DONE && why,
       "remove: another file under the name is not the one planned (%s)", why ? why : "");
    free(why);
    ok(vs_exec_file.run(&x, s, &err) == 0 && vs_file_exists(other),
       "... and a replayed removal leaves it alone");
    vs_plan_free(p);

    /* metadata steps: done, not done, changed by someone else */
    p = vs_plan_new("t", "vm", NULL, NULL);
    s = vs_plan_set_current(p, "nosuch", NULL, NULL);
    ok(vs_exec_store.observe(&x, s, NULL) == VS_SEEN_NOT_DONE, "set-current: not done");
    ok(vs_exec_store.run(&x, s, &err) == 0 && vs_exec_store.observe(&x, s, NULL) == VS_SEEN_DONE,
       "set-current: done (%s)", err.msg);
    vs_dom_set_current(d, "else", NULL);
    ok(vs_exec_store.observe(&x, s, NULL) == VS_SEEN_CONFLICT &&
       vs_exec_store.undo(&x, s, &err) < 0, "set-current changed since: its undo refuses: %s",
       err.msg);
    vs_dom_set_current(d, NULL, NULL);
    vs_plan_free(p);
    free(base);
    free(ov);
    free(other);
}

/* ---- the running QEMU's steps ---------------------------------------------------- */

static bool
has_tag(const char *img, const char *tag)
{
    return vs_exec_image_has_tag(img, tag, NULL) == 1;
}

static void
test_vm(void)
{
    vs_exec_ctx x = { d, NULL, NULL, NULL, false };
    char *a = vs_path_join(ext_imgdir, "vda.qcow2"), *b = vs_path_join(ext_imgdir, "vdb.qcow2");
    vs_vm_disk disks[2] = { { (char *)"vda", a, NULL }, { (char *)"vdb", (char *)"/x/it's a \"b\".qcow2", (char *)"/x/o" } };
    vs_vm_disk *back = NULL;
    vs_journal_state st = { VS_JOURNAL_PREPARED, 0, 0, NULL }, st2;
    vs_plan *p, *q = NULL;
    vs_buf out = VS_BUF_INIT;
    vs_step *s;
    vs_error err;
    char *text;
    size_t n = 0;

    /* the disks a step names, through its text */
    text = vs_vm_disks_format(disks, 2);
    ok(vs_vm_disks_parse(text, &back, &n) == 0 && n == 2 && strcmp(back[0].target, "vda") == 0 &&
       strcmp(back[1].image, disks[1].image) == 0, "the disks of a VM step round-trip");
    vs_vm_disks_free(back, n);
    free(text);
    ok(vs_vm_disks_parse("[{\"target\":1}]", &back, &n) < 0 && !back,
       "a disk list that is not one is refused");

    /* the columns: a save undoes, a load and a stop only go forward */
    vs_error_clear(&err);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_commit_point(p);
    vs_plan_vm_tags(p, VS_STEP_VM_SAVE, "s1", a, disks, 1, NULL);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "cannot be replayed"),
       "a snapshot-save after the commit point is refused: %s", err.msg);
    vs_plan_free(p);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_vm_tags(p, VS_STEP_VM_LOAD, "s1", a, disks, 1, NULL);
    vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", NULL);
    vs_plan_commit_point(p);
    ok(vs_plan_validate(p, &err) < 0 && strstr(err.msg, "cannot be undone"),
       "a snapshot-load before the commit point is refused: %s", err.msg);
    vs_plan_free(p);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_vm(p, VS_STEP_VM_PAUSE, "booted", NULL);
    vs_plan_vm_tags(p, VS_STEP_VM_SAVE, "s1", a, disks, 2, NULL);
    vs_plan_commit_point(p);
    vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", NULL);
    vs_plan_begin_finally(p);
    vs_plan_vm(p, VS_STEP_VM_RESUME, "unpaused", NULL);
    vs_error_clear(&err);
    ok(vs_plan_validate(p, &err) == 0, "pause, save | stop, finally resume is a plan (%s)",
       err.msg);

    /* the journal keeps them */
    text = vs_journal_encode(p, &st);
    ok(vs_journal_decode(text, strlen(text), "(test)", &q, &st2, &err) == 0 && q && q->n == 3 &&
       q->nfin == 1 && q->steps[0].kind == VS_STEP_VM_PAUSE &&
       strcmp(q->steps[0].old_name, "booted") == 0 && q->fin[0].kind == VS_STEP_VM_RESUME &&
       q->steps[1].text && strcmp(q->steps[1].text, p->steps[1].text) == 0,
       "a plan of VM steps round-trips through the journal (%s)", err.msg);
    vs_journal_state_clear(&st2);
    vs_plan_free(q);
    free(text);
    vs_plan_format(p, &out);
    ok(strstr(vs_buf_str(&out), "QEMU: internal snapshot 's1' taken of vda (") &&
       strstr(vs_buf_str(&out), "memory state in ") && strstr(vs_buf_str(&out), "finally 1. QEMU: resume"),
       "--dry-run names them");
    vs_buf_reset(&out);
    vs_plan_free(p);

    /* QEMU is gone (the domain is shut off): an observation too */
    p = vs_plan_new("t", "vm", NULL, NULL);
    ok(vs_exec_qmp.observe(&x, vs_plan_vm(p, VS_STEP_VM_RESUME, "unpaused", NULL), NULL) ==
       VS_SEEN_DONE, "resume with QEMU gone: nothing to resume");
    ok(vs_exec_qmp.observe(&x, vs_plan_vm(p, VS_STEP_VM_PAUSE, "booted", NULL), NULL) ==
       VS_SEEN_NOT_DONE, "pause with QEMU gone: nothing paused");
    ok(vs_exec_qmp.observe(&x, vs_plan_vm(p, VS_STEP_VM_STOP, "x", NULL), NULL) == VS_SEEN_DONE,
       "stop with QEMU gone: done");
    ok(vs_exec_qmp.observe(&x, vs_plan_vm(p, VS_STEP_VM_START, "x", NULL), NULL) ==
       VS_SEEN_NOT_DONE, "start with QEMU gone: not done");
    s = vs_plan_vm(p, VS_STEP_VM_PAUSE, "booted", NULL);
    ok(vs_exec_qmp.undo(&x, s, &err) == 0, "... and its undo has nothing to do (%s)", err.msg);
    ok(vs_exec_qmp.run(&x, s, &err) < 0 && strstr(err.msg, "not running"),
       "a pause with QEMU gone fails: %s", err.msg);
    vs_plan_free(p);

    disks[1].image = b;
    vs_qemu_img_snapshot_create(a, "gone1", NULL);
    vs_qemu_img_snapshot_create(b, "gone1", NULL);
    p = vs_plan_new("t", "vm", NULL, NULL);
    s = vs_plan_vm_tags(p, VS_STEP_VM_SAVE, "gone1", a, disks, 2, NULL);
    ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_DONE,
       "a save whose tag every image holds is done (read from the images)");
    vs_error_clear(&err);
    ok(vs_exec_qmp.undo(&x, s, &err) == 0 && !has_tag(a, "gone1") && !has_tag(b, "gone1"),
       "its undo with QEMU gone deletes the tag with qemu-img (%s)", err.msg);
    ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_NOT_DONE, "... then it is not done");
    ok(vs_exec_qmp.run(&x, s, &err) < 0 && strstr(err.msg, "is gone"),
       "a save with QEMU gone fails: %s", err.msg);
    vs_qemu_img_snapshot_create(a, "gone2", NULL);
    s = vs_plan_vm_tags(p, VS_STEP_VM_TAG_DELETE, "gone2", NULL, disks, 2, NULL);
    ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_NOT_DONE, "a delete of a tag one image holds: "
       "not done");
    vs_error_clear(&err);
    ok(vs_exec_qmp.run(&x, s, &err) == 0 && !has_tag(a, "gone2"),
       "... with QEMU gone it runs with qemu-img (%s)", err.msg);
    ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_DONE, "... and is done");
    vs_qemu_img_snapshot_create(a, "gone3", NULL);
    s = vs_plan_vm_tags(p, VS_STEP_VM_LOAD, "gone3", a, disks, 2, NULL);
    ok(vs_exec_qmp.run(&x, s, &err) < 0 && strstr(err.msg, "no internal snapshot 'gone3'"),
       "a load with QEMU gone applies the tag to every image, and one lacks it: %s", err.msg);
    vs_qemu_img_snapshot_create(b, "gone3", NULL);
    vs_error_clear(&err);
    ok(vs_exec_qmp.run(&x, s, &err) == 0, "... with both, the disks go back to it (%s)", err.msg);
    vs_qemu_img_snapshot_delete(a, "gone3", NULL);
    vs_qemu_img_snapshot_delete(b, "gone3", NULL);
    vs_plan_free(p);

    /* merges with QEMU gone: qemu-img does them */
    {
        char *ov = vs_path_join(ext_imgdir, "vm-ov.qcow2"), *top = vs_path_join(ext_imgdir, "vm-top.qcow2");
        vs_image_info info;

        p = vs_plan_new("t", "vm", NULL, NULL);
        vs_exec_create_image(ov, "qcow2", a, "qcow2", NULL);
        vs_exec_create_image(top, "qcow2", ov, "qcow2", NULL);
        s = vs_plan_vm_layer(p, VS_STEP_VM_STREAM, "vda", top, top, a, ov, NULL);
        ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_NOT_DONE, "a stream not done (files)");
        vs_error_clear(&err);
        ok(vs_exec_qmp.run(&x, s, &err) == 0 && vs_exec_backing_is(top, a) == 1,
           "... with QEMU gone it is a safe rebase with qemu-img (%s)", err.msg);
        ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_DONE, "... and then done");
        s = vs_plan_vm_layer(p, VS_STEP_VM_COMMIT, "vda", top, top, ov, NULL, NULL);
        vs_error_clear(&err);
        ok(vs_exec_qmp.run(&x, s, &err) < 0 && strstr(err.msg, "not based on"),
           "a commit into an image that is no longer below is refused: %s", err.msg);
        s = vs_plan_vm_layer(p, VS_STEP_VM_COMMIT, "vda", top, top, a, NULL, NULL);
        vs_error_clear(&err);
        ok(vs_exec_qmp.run(&x, s, &err) == 0, "a commit with QEMU gone runs with qemu-img (%s)",
           err.msg);
        ok(vs_qemu_img_info(a, false, &info, NULL) == 0, "... the image below is whole");
        vs_image_info_clear(&info);
        s = vs_plan_vm_layer(p, VS_STEP_VM_CLOSE, NULL, NULL, top, NULL, NULL, NULL);
        ok(vs_exec_qmp.observe(&x, s, NULL) == VS_SEEN_DONE &&
           vs_exec_qmp.run(&x, s, &err) == 0, "closing a node with QEMU gone: nothing to do");
        unlink(top);
        unlink(ov);
        free(top);
        free(ov);
        vs_plan_free(p);
    }
    free(a);
    free(b);
}

/* ---- finally actions, undo failures ---------------------------------------- */

#ifdef VSNAP_FAILPOINTS
/* Execute p in a child with failpoint fp armed; its exit status. */
static int
execute_with(vs_plan *p, const char *fp)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    if ((pid = fork()) == 0) {
        vs_error e;

        setenv("VSNAP_FAILPOINT", fp, 1);
        vs_error_clear(&e);
        if (vs_plan_execute(p, d, &e) < 0) {
            printf("# %s\n", e.msg);
            fflush(stdout);
            _exit(1);
        }
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
#endif

static void
test_finally(void)
{
    char *a = vs_path_join(ext_imgdir, "fa.qcow2"), *base = vs_path_join(ext_imgdir, "vda.qcow2");
    char *mark = NULL;
    vs_buf rep = VS_BUF_INIT;
    vs_plan *p;
    vs_error err;

    /* success: the finally action runs, the journal goes */
    mark = scratch_file("mark", "x");
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_create_image(p, a, "qcow2", base, "qcow2", NULL);
    vs_plan_commit_point(p);
    vs_plan_begin_finally(p);
    vs_plan_remove_image(p, mark, "finally");
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) == 0 && !vs_file_exists(mark) && vs_file_exists(a) &&
       !vs_dom_journal_exists(d), "finally runs after success (%s)", err.msg);
    unlink(a);
    vs_plan_free(p);

    /* a failure before the commit point: undone, and the finally action ran */
    free(mark);
    mark = scratch_file("mark", "x");
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_create_image(p, a, "qcow2", base, "qcow2", NULL);
    vs_plan_create_image(p, "/nonexistent/x.qcow2", "qcow2", base, "qcow2", NULL);
    vs_plan_commit_point(p);
    vs_plan_begin_finally(p);
    vs_plan_remove_image(p, mark, "finally");
    ok(vs_plan_execute(p, d, &err) < 0 && !vs_file_exists(a) && !vs_file_exists(mark) &&
       !vs_dom_journal_exists(d), "finally runs after a rollback: %s", err.msg);
    vs_plan_free(p);

    /* a failure after the commit point: the journal stays, finally ran */
    free(mark);
    mark = scratch_file("mark", "x");
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_write_snapshot(p, "x", "<not xml", NULL, NULL);
    vs_plan_begin_finally(p);
    vs_plan_remove_image(p, mark, "finally");
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) < 0 && vs_dom_journal_exists(d) && !vs_file_exists(mark),
       "finally runs after a failure past the commit point: %s", err.msg);
    vs_dom_journal_remove(d, NULL);
    vs_plan_free(p);

#ifdef VSNAP_FAILPOINTS
    /* a crash before the finally action: the repair runs it */
    free(mark);
    mark = scratch_file("mark", "x");
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_create_image(p, a, "qcow2", base, "qcow2", NULL);
    vs_plan_commit_point(p);
    vs_plan_begin_finally(p);
    vs_plan_remove_image(p, mark, "finally");
    ok(execute_with(p, "plan-step:2:kill") == 137 && vs_dom_journal_exists(d) &&
       vs_file_exists(mark), "killed before the finally action");
    vs_error_clear(&err);
    ok(vs_plan_repair(d, &rep, &err) == 0 && !vs_file_exists(mark) && !vs_file_exists(a) &&
       !vs_dom_journal_exists(d), "the repair rolls back and runs it (%s)", err.msg);
    vs_buf_reset(&rep);
    vs_plan_free(p);

    /* an undo that fails keeps the journal, and the repair finishes the undo */
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_create_image(p, a, "qcow2", base, "qcow2", NULL);
    vs_plan_create_image(p, "/nonexistent/x.qcow2", "qcow2", base, "qcow2", NULL);
    vs_plan_commit_point(p);
    ok(execute_with(p, "plan-undo:1") == 1 && vs_dom_journal_exists(d),
       "an undo that fails leaves the journal");
    vs_error_clear(&err);
    ok(vs_plan_repair(d, &rep, &err) == 0 && !vs_file_exists(a) && !vs_dom_journal_exists(d),
       "... and the repair finishes the rollback (%s)", err.msg);
    vs_buf_reset(&rep);
    vs_plan_free(p);
#else
    ok(1, "# SKIP failpoints are not compiled in");
#endif
    free(mark);
    free(a);
    free(base);
}

/* snapshot XML `x` with its first <name> replaced (caller frees) */
static char *
replace_name(const char *x, const char *name)
{
    const char *a = strstr(x, "<name>"), *b = strstr(x, "</name>");

    return vs_xasprintf("%.*s<name>%s%s", (int)(a - x), x, name, b);
}

/* A plan of one step the table marks atomic runs without a journal; two
 * such steps, or one with a finally action, keep it. */
static void
test_alone_atomic(void)
{
    static const char snap[] = "<domainsnapshot><name>aa</name><state>shutoff</state>"
                               "<creationTime>1</creationTime></domainsnapshot>";
    vs_plan *p;
    vs_error err;
    int k, natomic = 0;

    for (k = 0; k < VS_STEP_KIND_COUNT; k++)
        if (vs_step_info((vs_step_kind)k)->atomic)
            natomic++;
    ok(vs_step_info(VS_STEP_WRITE_SNAPSHOT)->atomic && vs_step_info(VS_STEP_SET_CURRENT)->atomic &&
       vs_step_info(VS_STEP_REMOVE_MANAGED_SAVE)->atomic &&
       !vs_step_info(VS_STEP_COMMIT_IMAGE)->atomic && !vs_step_info(VS_STEP_VM_SAVE_MEMORY)->atomic &&
       natomic == 6,
       "the five metadata writes and the managed save's removal are atomic, image steps are "
       "not (%d)", natomic);
    p = vs_plan_new("t", "vm", NULL, "aa");
    vs_plan_write_snapshot(p, "aa", snap, NULL, NULL);
    vs_plan_commit_point(p);
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) == 0 && vs_dom_has_snapshot(d, "aa") &&
       !vs_dom_journal_exists(d), "one atomic step runs (%s)", err.msg);
    vs_plan_free(p);
#ifdef VSNAP_FAILPOINTS
    /* killed at its only boundary: nothing written, not even a journal */
    p = vs_plan_new("t", "vm", NULL, "aa");
    vs_plan_remove_snapshot(p, "aa", snap, NULL);
    vs_plan_commit_point(p);
    ok(execute_with(p, "plan-step:1:kill") == 137 && !vs_dom_journal_exists(d),
       "one atomic step writes no journal");
    vs_plan_free(p);
    /* two of them: the journal is written before the first */
    p = vs_plan_new("t", "vm", NULL, "aa");
    vs_plan_remove_snapshot(p, "aa", snap, NULL);
    vs_plan_set_current(p, NULL, NULL, NULL);
    vs_plan_commit_point(p);
    ok(execute_with(p, "plan-step:1:kill") == 137 && vs_dom_journal_exists(d),
       "two atomic steps keep the journal");
    vs_plan_free(p);
    vs_dom_journal_remove(d, NULL);
    /* the metadata steps of a journaled plan share their directory syncs:
     * the journal's own, then snapshots/ once before the journal goes, so a
     * failing third sync is never reached (one sync per file would fail) */
    p = vs_plan_new("t", "vm", NULL, NULL);
    for (k = 0; k < 3; k++) {
        static const char *const names[] = { "aa", "ab", "ac" };
        char *t = replace_name(snap, names[k]);
        vs_snapshot_def *def = vs_snapshot_def_parse(t, strlen(t), "(test)",
                                                     VS_SNAP_PARSE_REDEFINE, 0, NULL);
        char *canon = def ? vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE) : NULL;

        vs_plan_write_snapshot(p, names[k], canon, NULL, NULL);
        vs_snapshot_def_free(def);
        free(canon);
        free(t);
    }
    vs_plan_commit_point(p);
    vs_dom_forget(d);
    vs_dom_remove_snapshot(d, "aa", NULL);
    ok(execute_with(p, "file-write-dirsync:3") == 0, "three snapshot files, one directory sync");
    vs_dom_forget(d);
    for (k = 0; k < 3; k++)
        vs_dom_remove_snapshot(d, p->steps[k].name, NULL);
    k = execute_with(p, "file-write-dirsync:2");
    vs_dom_forget(d);
    ok(k == 1 && !vs_dom_journal_exists(d) && !vs_dom_snapshot_file_exists(d, "aa") &&
       !vs_dom_snapshot_file_exists(d, "ac"),
       "... and when that sync fails the plan is rolled back (%d)", k);
    vs_plan_free(p);
#else
    ok(1, "# SKIP failpoints are not compiled in");
    ok(1, "# SKIP failpoints are not compiled in");
#endif
    vs_dom_forget(d);
    vs_dom_remove_snapshot(d, "aa", NULL);
}

/* Whether image img holds internal snapshot tag (its qcow2 header). */
static bool
tagged(const char *img, const char *tag)
{
    vs_image_info info;
    char **t;
    bool yes = false;

    if (vs_qcow2_probe(img, &info, NULL) != 1)
        return false;
    for (t = info.snapshot_tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            yes = true;
    vs_image_info_clear(&info);
    return yes;
}

/* Image tags on independent disks run as one group (at once), and a grouped
 * delete passes over an image that no longer holds its tag. */
static void
test_tag_group(void)
{
    char *a = vs_path_join(ext_imgdir, "vda.qcow2"), *b = vs_path_join(ext_imgdir, "vdb.qcow2");
    vs_plan *p;
    vs_error err;

    ok(vs_step_info(VS_STEP_TAG_CREATE)->groupable && vs_step_info(VS_STEP_TAG_DELETE)->groupable &&
       vs_step_info(VS_STEP_TAG_APPLY)->groupable, "tag steps on independent images are groupable");
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_tag(p, VS_STEP_TAG_CREATE, a, "g1", NULL);
    vs_plan_tag(p, VS_STEP_TAG_CREATE, b, "g1", NULL);
    vs_plan_commit_point(p);
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) == 0 && tagged(a, "g1") && tagged(b, "g1"),
       "two tags created together (%s)", err.msg);
    vs_plan_free(p);
    vs_qemu_img_snapshot_delete(b, "g1", NULL);
    p = vs_plan_new("t", "vm", NULL, NULL);
    vs_plan_tag(p, VS_STEP_TAG_DELETE, a, "g1", NULL);
    vs_plan_tag(p, VS_STEP_TAG_DELETE, b, "g1", NULL);
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) == 0 && !tagged(a, "g1") && !tagged(b, "g1"),
       "two tags deleted together, one of them gone already (%s)", err.msg);
    vs_plan_free(p);
    /* removals of several images run together, one sync of their directory */
    {
        char *r1 = scratch_file("r1", "x"), *r2 = scratch_file("r2", "y");
        vs_step *st;

        ok(vs_step_info(VS_STEP_REMOVE_IMAGE)->groupable, "image removals are groupable");
        p = vs_plan_new("t", "vm", NULL, NULL);
        st = vs_plan_remove_image(p, r1, NULL);
        vs_file_id_get(r1, &st->expect);
        st = vs_plan_remove_image(p, r2, NULL);
        vs_file_id_get(r2, &st->expect);
        unlink(r2);
        vs_error_clear(&err);
        ok(vs_plan_execute(p, d, &err) == 0 && !vs_file_exists(r1) && !vs_file_exists(r2) &&
           !vs_dom_journal_exists(d), "two images removed together, one gone already (%s)",
           err.msg);
        vs_plan_free(p);
        free(r1);
        free(r2);
    }
    free(a);
    free(b);
}

int
main(void)
{
    if (ext_setup("vsnap-plan") < 0) {
        printf("Bail out! cannot set up a scratch store\n");
        return 1;
    }
    open_dom();
    test_table();
    test_codec();
    test_observe();
    test_vm();
    test_finally();
    test_alone_atomic();
    test_tag_group();
    vs_dom_close(d);
    ext_teardown();
    return tap_done() + (tap_failed ? 1 : 0);
}
