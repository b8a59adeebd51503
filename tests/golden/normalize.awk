# Normalise one stream of a golden command (virsh transcript or vsnap run)
# before comparison. convert.sh applies it to the transcripts, run.sh to
# vsnap's output, so both sides go through the same code.
#
# Variables: kind = "stdout" | "stderr"; cmd = the command string (decides
# whether XML is a stored snapshot dump); work = the scratch directory whose
# path becomes @WORK@.
#
# Only what differs between the runs by nature is masked:
#   * the scratch directory path;
#   * creation times (table cells, <creationTime>) and epoch-second names;
#   * snapshot states (table cells, "State:", <state>) and the memory mode of
#     stored snapshots: virsh's test domain runs, vsnap's is shut off;
#   * in stored snapshot dumps, the embedded <domain> (our test domain is not
#     the test driver's; run.sh compares it with `vsnap dumpxml` instead) and
#     the entry of our second disk vdb (the test driver's domain has one).
# Every line is printed with a leading "|" so trailing blanks stay visible.

BEGIN {
    D4 = "[0-9][0-9][0-9][0-9]"
    D2 = "[0-9][0-9]"
    DATE_RE = D4 "-" D2 "-" D2 " " D2 ":" D2 ":" D2 " [-+]" D4
    EPOCH_RE = "1[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
    dump = (cmd ~ /^snapshot-(dumpxml|current)([ \t]|$)/)
    in_domain = 0
    in_vdb = 0
}

function replace_all(s, from, to,    out, i) {
    if (from == "")
        return s
    out = ""
    while ((i = index(s, from)) > 0) {
        out = out substr(s, 1, i - 1) to
        s = substr(s, i + length(from))
    }
    return out s
}

function spaces(n,    s) {
    s = ""
    while (n-- > 0)
        s = s " "
    return s
}

# A ten-digit number not part of a longer one.
function mask_epochs(s,    out, pre, post) {
    out = ""
    while (match(s, EPOCH_RE)) {
        pre = RSTART > 1 ? substr(s, RSTART - 1, 1) : ""
        post = substr(s, RSTART + RLENGTH, 1)
        if (pre ~ /[0-9]/ || post ~ /[0-9]/) {
            out = out substr(s, 1, RSTART + RLENGTH - 1)
        } else {
            out = out substr(s, 1, RSTART - 1) "@EPOCH@"
        }
        s = substr(s, RSTART + RLENGTH)
    }
    return out s
}

# " NAME   <time>   <state>[   <parent>]": mask time and state, keeping the
# columns after the state where they were (the state column is as wide as its
# longest word, 7 for running/shutoff in both runs).
function mask_row(s,    pre, rest, w, tail, sp, n) {
    if (!match(s, DATE_RE))
        return s
    pre = substr(s, 1, RSTART - 1) "YYYY-MM-DD hh:mm:ss +zzzz"
    rest = substr(s, RSTART + RLENGTH)
    if (match(rest, /^   [a-z][a-z-]*/)) {
        w = substr(rest, 4, RLENGTH - 3)
        tail = substr(rest, RLENGTH + 1)
        match(tail, /^ */)
        sp = RLENGTH
        tail = substr(tail, sp + 1)
        n = length(w) + sp - 7
        if (n < 0)
            n = 0
        rest = "   @STATE@" spaces(n) tail
    }
    return pre rest
}

{
    line = replace_all($0, work, "@WORK@")

    if (kind == "stdout") {
        if (dump) {
            if (in_domain) {
                if (line == "  </domain>")
                    in_domain = 0
                next
            }
            if (line ~ /^  <domain type=/) {
                print "|  <domain type=@DOMAIN@/>"
                in_domain = 1
                next
            }
            if (in_vdb) {
                if (line == "    </disk>")
                    in_vdb = 0
                next
            }
            if (line ~ /^    <disk name='vdb'/) {
                if (line !~ /\/>$/)
                    in_vdb = 1
                next
            }
            if (line ~ /^  <memory snapshot='(internal|no)'\/>$/)
                line = "  <memory snapshot='@MEMORY@'/>"
        }
        gsub(/<state>[a-z-]*<\/state>/, "<state>@STATE@</state>", line)
        gsub(/<creationTime>[0-9]*<\/creationTime>/, "<creationTime>@TIME@</creationTime>", line)
        if (line ~ /^State:          /)
            line = "State:          @STATE@"
        line = mask_row(line)
        line = mask_epochs(line)
    }
    print "|" line
}
