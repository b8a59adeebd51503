# bash completion for vsnap                                      -*- shell-script -*-
#
# Everything comes from vsnap itself: command names from `vsnap help`, a
# command's options from `vsnap CMD --help`, domain names from
# `vsnap list --all --name`, snapshot names from `vsnap snapshot-list DOM --name`.
# vsnap runs with stdin from /dev/null, stderr discarded and a time limit, so a
# busy domain or a broken setup never blocks or clutters the prompt.
# (A `vsnap complete` helper driven by the command table comes in a later release.)

# Run vsnap with the -d DIR the user typed before the command.
_vsnap_run()
{
    local -a limit=()
    command -v timeout >/dev/null 2>&1 && limit=(timeout 3)
    "${limit[@]}" "$_vsnap_prog" "${_vsnap_global[@]}" -q "$@" </dev/null 2>/dev/null
}

_vsnap_commands()
{
    _vsnap_run help | while IFS= read -r line; do
        [[ $line =~ ^\ {4}([a-z][a-z0-9-]*)(\ |$) ]] && printf '%s\n' "${BASH_REMATCH[1]}"
    done
}

# Fill _vsnap_opts (names in help order), _vsnap_valued[name]=1 for options that
# take a value, and _vsnap_positional (names of the options that may be given
# without their name, in order) from the OPTIONS section of `vsnap help CMD`.
_vsnap_parse_help()
{
    local line section=''
    _vsnap_opts=()
    _vsnap_positional=()
    _vsnap_valued=()
    while IFS= read -r line; do
        if [[ $line =~ ^\ {0,2}([A-Z][A-Z]*)$ ]]; then
            section=${BASH_REMATCH[1]}
            continue
        fi
        [[ $section == OPTIONS ]] || continue
        [[ $line =~ ^\ +(\[)?--([a-z0-9-]+)\]?(\ <[a-z]+>)? ]] || continue
        _vsnap_opts+=("${BASH_REMATCH[2]}")
        [[ -n ${BASH_REMATCH[3]} ]] && _vsnap_valued[${BASH_REMATCH[2]}]=1
        [[ -n ${BASH_REMATCH[1]} ]] && _vsnap_positional+=("${BASH_REMATCH[2]}")
    done < <(_vsnap_run help "$1")
    # As in virsh's help, a few options that may be given bare are shown
    # without brackets; they come right after the domain.
    local o p
    for o in snapshotname from; do
        [[ " ${_vsnap_opts[*]} " == *" $o "* ]] || continue
        [[ " ${_vsnap_positional[*]} " == *" $o "* ]] && continue
        p=("${_vsnap_positional[@]}")
        if [[ ${p[0]} == domain ]]; then
            _vsnap_positional=(domain "$o" "${p[@]:1}")
        else
            _vsnap_positional=("$o" "${p[@]}")
        fi
    done
}

# Candidates for the value of option $1 (the domain is in _vsnap_domain).
_vsnap_values()
{
    case $1 in
    domain)
        _vsnap_run list --all --name ;;
    snapshotname | from)
        [[ -n $_vsnap_domain ]] && _vsnap_run snapshot-list "$_vsnap_domain" --name ;;
    command)
        _vsnap_commands
        _vsnap_run help | sed -n "s/.*(help keyword '\\([a-z]*\\)').*/\\1/p" ;;
    esac
}

_vsnap()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion -n =: || return
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${words[cword]}
        prev=${words[cword - 1]}
    fi

    local _vsnap_prog=${words[0]}
    [[ $_vsnap_prog == */* && -x $_vsnap_prog ]] || _vsnap_prog=vsnap
    local -a _vsnap_global=()

    # Global options, then the command word.
    local i=1 cmd='' cmd_i=0
    while ((i < cword)); do
        case ${words[i]} in
        -d | --dir) _vsnap_global+=(-d "${words[i + 1]}"); ((i += 2)); continue ;;
        -d?* | --dir=*) _vsnap_global+=("${words[i]}") ;;
        -*) ;;
        *) cmd=${words[i]}; cmd_i=$i; break ;;
        esac
        ((i++))
    done

    if [[ -z $cmd ]]; then
        case $prev in
        -d | --dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '-q -d -h -v --quiet --dir --help --version' -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_vsnap_commands)" -- "$cur"))
        fi
        return
    fi

    local -a _vsnap_opts _vsnap_positional
    local -A _vsnap_valued given
    _vsnap_parse_help "$cmd"

    # Named options on the line, and the bare words that fill positional options.
    local -a bare=()
    local w name _vsnap_domain='' after_dashdash=''
    for ((i = cmd_i + 1; i < ${#words[@]}; i++)); do
        ((i == cword)) && continue
        w=${words[i]}
        if [[ -z $after_dashdash && $w == --* ]]; then
            [[ $w == -- ]] && { after_dashdash=1; continue; }
            name=${w#--}
            if [[ $name == *=* ]]; then
                given[${name%%=*}]=1
                [[ ${name%%=*} == domain ]] && _vsnap_domain=${name#*=}
                continue
            fi
            given[$name]=1
            if [[ -n ${_vsnap_valued[$name]} ]]; then
                ((i + 1 != cword)) && [[ $name == domain ]] && _vsnap_domain=${words[i + 1]}
                ((i++))
            fi
        elif ((i < cword)); then
            bare+=("$w")
        fi
    done

    # Positional options not given by name take the bare words in order.
    local -a free=()
    # help's topic can be given bare although its help shows --command.
    [[ $cmd == help ]] && _vsnap_positional=(command)
    for name in "${_vsnap_positional[@]}"; do
        [[ -n ${given[$name]} ]] || free+=("$name")
    done
    if [[ -z $_vsnap_domain && ${free[0]} == domain && ${#bare[@]} -gt 0 ]]; then
        _vsnap_domain=${bare[0]}
    fi
    for ((i = 0; i < ${#bare[@]} && i < ${#free[@]}; i++)); do
        [[ ${free[i]} == diskspec ]] || given[${free[i]}]=1
    done

    # The option whose value is being typed, if any.
    local want=''
    if [[ $cur == --*=* ]]; then
        name=${cur%%=*}
        name=${name#--}
        cur=${cur#*=}
        want=$name
    elif [[ $prev == --* && -n ${_vsnap_valued[${prev#--}]} ]]; then
        want=${prev#--}
    elif [[ $cur == -* ]]; then
        local -a left=()
        for name in "${_vsnap_opts[@]}"; do
            [[ -z ${given[$name]} || $name == diskspec ]] && left+=("--$name")
        done
        COMPREPLY=($(compgen -W "${left[*]}" -- "$cur"))
        return
    else
        local n=${#bare[@]}
        if ((n < ${#free[@]})); then
            want=${free[n]}
        elif ((${#free[@]} > 0)); then
            want=${free[${#free[@]} - 1]}   # a repeatable last one (--diskspec)
        fi
    fi

    case $want in
    xmlfile | file)
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null ;;
    '') ;;
    *)
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$(_vsnap_values "$want")" -- "$cur")) ;;
    esac
} &&
    complete -F _vsnap vsnap

# ex: filetype=sh
