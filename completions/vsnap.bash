# bash completion for vsnap                                      -*- shell-script -*-
#
# vsnap completes its own command lines: this script only finds the words
# before the cursor and asks `vsnap complete -- WORDS` (the current word
# last, possibly empty), the same engine the interactive shell's Tab uses.
# vsnap reads the command table and the metadata directory (never waiting for
# a lock, never writing one), prints one candidate a line, and is silent on
# stderr.

_vsnap()
{
    # COMP_POINT counts bytes.
    local LC_ALL=C
    local line=${COMP_LINE:0:COMP_POINT}
    # bash's own word breaks other than blanks and quotes: readline replaces
    # only the text after the last of them (":" and "=" by default).
    local breaks=${COMP_WORDBREAKS//[\"\'$' \t\n']/}
    local -a words=()
    local word='' c sq='' dq='' esc='' inword='' qstart=0 brk=0
    local i n=${#line}

    # Split as vsnap's grammar does (blanks separate, quotes and backslashes
    # protect), keeping each word as typed: vsnap interprets the quoting.
    for ((i = 0; i < n; i++)); do
        c=${line:i:1}
        if [[ -n $esc ]]; then
            word+=$c; esc=''; continue
        fi
        if [[ -n $sq ]]; then
            word+=$c; [[ $c == "'" ]] && sq=''; continue
        fi
        if [[ -n $dq ]]; then
            word+=$c
            case $c in \\) esc=1 ;; \") dq='' ;; esac
            continue
        fi
        case $c in
        ' ' | $'\t' | $'\n')
            [[ -n $inword ]] && words+=("$word")
            word='' inword='' qstart=0 brk=0
            continue ;;
        \\) esc=1 ;;
        \') sq=1; qstart=$((${#word} + 1)) ;;
        \") dq=1; qstart=$((${#word} + 1)) ;;
        *) [[ -n $breaks && $breaks == *"$c"* ]] && brk=$((${#word} + 1)) ;;
        esac
        word+=$c
        inword=1
    done

    # Global options come before the command word.
    local -a global=()
    local cmd_i=-1 w
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        case $w in
        -d | --dir)
            ((i++))
            ((i < ${#words[@]})) && global=(-d "$(_vsnap_dequote "${words[i]}")") ;;
        -d?*) global=(-d "$(_vsnap_dequote "${w#-d}")") ;;
        --dir=*) global=(-d "$(_vsnap_dequote "${w#--dir=}")") ;;
        -*) ;;
        *) cmd_i=$i; break ;;
        esac
    done

    COMPREPLY=()
    if ((cmd_i < 0)); then
        case ${words[${#words[@]} - 1]} in
        -d | --dir)
            ((${#words[@]} > 1)) && {
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -- "$word")
                return
            } ;;
        esac
        if [[ $word == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W '-d --dir -h --help -q --quiet -v --version' -- "$word")
            return
        fi
    fi

    local prog=${COMP_WORDS[0]}
    [[ $prog == */* && -x $prog ]] || prog=vsnap
    local -a args=()
    ((cmd_i >= 0)) && args=("${words[@]:cmd_i}")
    args+=("$word")

    # vsnap's candidates replace the whole word, or what follows its open
    # quote; readline replaces less when a word break comes later.
    local start=0 bstart=$brk
    if [[ -n $sq || -n $dq ]]; then
        start=$qstart bstart=$qstart
    fi
    local strip=${word:start:bstart-start}
    local cand
    local -a out=()
    mapfile -t out < <("$prog" "${global[@]}" complete -- "${args[@]}" 2>/dev/null </dev/null)
    for cand in "${out[@]}"; do
        [[ $cand == "$strip"* ]] && COMPREPLY+=("${cand#"$strip"}")
    done
    if ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == *[/=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
} &&
_vsnap_dequote()
{
    # A directory typed as 'dir', "dir", ~/dir or with backslashes.
    local s=$1
    case $s in
    \'*\') s=${s:1:${#s}-2} ;;
    \"*\") s=${s:1:${#s}-2} ;;
    *) s=${s//\\/} ;;
    esac
    [[ $s == \~/* ]] && s=$HOME/${s#\~/}
    printf '%s' "$s"
} &&
    complete -F _vsnap vsnap

# ex: filetype=sh
