#!/usr/bin/env bash
# The shipped schedule runs: the ExecStart= lines of vsnap-snapshot@.service
# (as built, with make's paths) are read from the unit, expanded as systemd
# expands them (%I the domain, ${VAR} one word from the EnvironmentFile=,
# $VAR split at blanks) with the settings file copied from example.conf, and
# run; so is the command of the cron example's line, through sh as cron runs
# it. Against a history of 40 hourly snapshots they leave what the policy in
# the settings file keeps: 24 hourly, 7 daily, 4 weekly, and nothing a
# second run would delete.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
flat=${top_builddir:-.}/tests/tools/jsonflat
unit=${top_builddir:-.}/schedule/vsnap-snapshot@.service
timer=${top_srcdir:-.}/schedule/vsnap-snapshot@.timer
example=${top_srcdir:-.}/schedule/example.conf
cron=${top_builddir:-.}/schedule/vsnap.cron
for f in "$unit" "$timer" "$example" "$cron"; do
    [ -f "$f" ] || t_bail "$f is missing (make builds it)"
done

img=$tmp/web.qcow2
make_image "$img"
define_domain web 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b "vda:$img"
images=$img

# ---- the settings file: the example as shipped, plus where the metadata is
mkdir -p "$tmp/etc/vsnap"
conf=$tmp/etc/vsnap/web.conf
cp "$example" "$conf"
echo "VSNAP_DIR=$meta" >>"$conf"

# ---- the unit, as systemd reads it
envfile=$(sed -n 's/^EnvironmentFile=//p' "$unit")
case $envfile in */vsnap/%I.conf) t_ok "the service reads /etc/vsnap/DOMAIN.conf ($envfile)" ;;
*) t_not_ok "the service reads /etc/vsnap/DOMAIN.conf ($envfile)" ;; esac
t_is "its settings go to the environment" "$(grep -c '^EnvironmentFile=' "$unit")" 1
t_is "the timer fires hourly" "$(sed -n 's/^OnCalendar=//p' "$timer")" hourly
t_is "the timer is enabled into timers.target" "$(sed -n 's/^WantedBy=//p' "$timer")" timers.target

declare -A env
while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    env[${line%%=*}]=${line#*=}
done <"$conf"

# expand WORD...: systemd's expansion of one ExecStart= command into argv
# lines in $tmp/argv (one word per line)
expand() {
    local w name
    : >"$tmp/argv"
    for w in $1; do
        w=${w//%I/web}
        w=${w//%i/web}
        w=${w//%%/%}
        if [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
            # "$VAR" alone: split at blanks
            for part in ${env[${BASH_REMATCH[1]}]:-}; do echo "$part" >>"$tmp/argv"; done
            continue
        fi
        while [[ $w =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
            name=${BASH_REMATCH[1]}
            w=${w//\$\{$name\}/${env[$name]:-}}
        done
        echo "$w" >>"$tmp/argv"
    done
}

# run_unit: every ExecStart= in order, stopping at a failure as systemd does
run_unit() {
    local cmd n=0
    local -a argv
    while IFS= read -r cmd; do
        n=$((n + 1))
        expand "$cmd"
        mapfile -t argv <"$tmp/argv"
        case ${argv[0]} in */vsnap) ;; *) echo "# ExecStart $n runs ${argv[0]}"; return 1 ;; esac
        (
            for k in "${!env[@]}"; do export "$k=${env[$k]}"; done
            "$VSNAP" "${argv[@]:1}"
        ) >"$tmp/unit.out" 2>"$tmp/unit.err" </dev/null || {
            echo "# ExecStart $n failed: ${argv[*]}"
            t_diag "$tmp/unit.err"
            return 1
        }
        [ -s "$tmp/unit.out" ] || [ -s "$tmp/unit.err" ] && { echo "# ExecStart $n printed:"; t_diag "$tmp/unit.out" "$tmp/unit.err"; return 1; }
    done < <(sed -n 's/^ExecStart=//p' "$unit")
    [ "$n" = 2 ] || { echo "# $n ExecStart= lines, expected 2"; return 1; }
}

t_check "the service's commands run, quietly" run_unit
run snapshot-list web --name
t_check "... and took one snapshot hourly-YYYYmmdd-HHMMSS" \
    test "$(grep -cE '^hourly-[0-9]{8}-[0-9]{6}$' "$tmp/out")" = 1

# ---- a history of 40 hourly snapshots, one chain, each an hour older
# (redefined: metadata only, to take no time)
now=$(date +%s)
prev=$(grep '^hourly-' "$tmp/out")
# metadata only: the domain they recorded has no disk, so no image holds them
domain_xml web 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b >"$tmp/dom.xml"
for k in $(seq 40 -1 1); do
    t=$((now - k * 3600 - 600))
    name=hourly-$(TZ=UTC date -d "@$t" +%Y%m%d-%H%M%S)
    {
        printf '<domainsnapshot>\n  <name>%s</name>\n' "$name"
        [ "$k" = 40 ] || printf '  <parent>\n    <name>%s</name>\n  </parent>\n' "$last"
        printf '  <state>shutoff</state>\n  <creationTime>%d</creationTime>\n' "$t"
        cat "$tmp/dom.xml"
        printf '</domainsnapshot>\n'
    } >"$tmp/h.xml"
    must snapshot-create web "$tmp/h.xml" --redefine
    last=$name
done
must snapshot-current web "$prev"
must snapshot-create-as web manual-keep
t_is "41 hourly snapshots and a manual one" "$("$VSNAP" -d "$meta" snapshot-list web --name | grep -c .)" 42

t_check "the service's commands run again" run_unit
run snapshot-prune web --match 'hourly-*' --keep-hourly 24 --keep-daily 7 --keep-weekly 4 --dry-run --json
"$flat" <"$tmp/out" >"$tmp/flat"
t_is "what is left is what the policy keeps: nothing more would go" "$(sed -n 's/^\.deleted=//p' "$tmp/flat")" 0
t_is "... 24 of them hourly" "$(grep -c '\.reasons\[[0-9]*\]=hourly$' "$tmp/flat")" 24
t_check "... the newest of each day kept too" test "$(grep -c '\.reasons\[[0-9]*\]=daily$' "$tmp/flat")" -ge 2
t_check "... and the older hours went" test "$("$VSNAP" -d "$meta" snapshot-list web --name | grep -c '^hourly-')" -lt 41
t_check "the manual snapshot is not the policy's" grep -q '^manual-keep$' <("$VSNAP" -d "$meta" snapshot-list web --name)
expect_ok "snapshot-check is clean" snapshot-check web

# ---- the cron example, as cron runs it
line=$(grep -vE '^[[:space:]]*(#|$|[A-Z_]+=)' "$cron")
t_is "the cron example has one line" "$(printf '%s\n' "$line" | grep -c .)" 1
case $line in *%*) t_not_ok "the cron line has no %" ;; *) t_ok "the cron line has no %" ;; esac
cmd=$(printf '%s\n' "$line" | awk '{ $1 = $2 = $3 = $4 = $5 = $6 = ""; sub(/^ +/, ""); print }')
cmd=${cmd//web1/web}
cmd=${cmd//$(dirname "$envfile")\//$tmp/etc/vsnap/}
mkdir -p "$tmp/bin"
ln -s "$VSNAP" "$tmp/bin/vsnap"
"$VSNAP" -d "$meta" snapshot-list web --name | grep '^hourly-' >"$tmp/before"
sleep 1   # a new second: the name cannot be taken yet
env -i PATH="$tmp/bin:/usr/bin:/bin" VSNAP_REAL="${VSNAP_REAL:-}" sh -c "$cmd" >"$tmp/out" 2>"$tmp/err"
t_is "the cron command runs, quietly" "$?:$(cat "$tmp/out" "$tmp/err")" "0:"
"$VSNAP" -d "$meta" snapshot-list web --name | grep '^hourly-' >"$tmp/after"
t_is "... took a new snapshot" "$(comm -13 "$tmp/before" "$tmp/after" | grep -c .)" 1
run snapshot-prune web --match 'hourly-*' --keep-hourly 24 --keep-daily 7 --keep-weekly 4 --dry-run --json
"$flat" <"$tmp/out" >"$tmp/flat"
t_is "... and pruned to the policy" "$(sed -n 's/^\.deleted=//p' "$tmp/flat")" 0

if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$tmp/units"
    sed "s|^ExecStart=[^ ]*/vsnap |ExecStart=$VSNAP |" "$unit" >"$tmp/units/vsnap-snapshot@web.service"
    cp "$timer" "$tmp/units/vsnap-snapshot@web.timer"
    if (cd "$tmp/units" && systemd-analyze verify --man=no ./vsnap-snapshot@web.service \
        ./vsnap-snapshot@web.timer) >"$tmp/verify" 2>&1; then
        t_ok "systemd-analyze verify accepts the timer and the service"
    else
        t_not_ok "systemd-analyze verify accepts the timer and the service"
        t_diag "$tmp/verify"
    fi
else
    t_ok "systemd-analyze verify # SKIP systemd-analyze is not installed"
fi

t_done
