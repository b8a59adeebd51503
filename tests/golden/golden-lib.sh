# Shared by convert.sh and run.sh (sourced; POSIX sh). GOLDEN_DIR must be set
# to the directory holding normalize.awk.
#
# A command's result is written as a "block":
#   @stdout
#   |<each normalised line of stdout>
#   \ No newline at end of output        (only if stdout does not end in one)
#   @stderr
#   |...
#   @status N
# Both the expected files and run.sh's actual results use this form, built by
# golden_block, so that comparing them is comparing bytes.

# golden_stream KIND CMD WORK FILE
golden_stream() {
    awk -v kind="$1" -v cmd="$2" -v work="$3" -f "$GOLDEN_DIR/normalize.awk" "$4"
    # $(...) drops trailing newlines only: a non-empty result means the file
    # does not end in one.
    if [ -s "$4" ] && [ -n "$(tail -c 1 "$4")" ]; then
        echo '\ No newline at end of output'
    fi
}

# golden_block STDOUT_FILE STDERR_FILE STATUS CMD WORK
golden_block() {
    echo "@stdout"
    golden_stream stdout "$4" "$5" "$1"
    echo "@stderr"
    golden_stream stderr "$4" "$5" "$2"
    echo "@status $3"
}
