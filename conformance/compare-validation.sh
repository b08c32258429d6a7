#!/usr/bin/env bash
# Side-by-side table of run-validation.sh results for several runtimes (Markdown).
#
# Usage: conformance/compare-validation.sh RESULTS_DIR...
#   RESULTS_DIR  a --results directory of conformance/run-validation.sh (holds results.tsv);
#                the column is named after the directory.
# Each cell is "pass" or "FAIL"/"TIMEOUT" with the not-ok count (nN) or, for programs that
# report only error diagnostics, the error count (eN), or the exit code (xN).
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
FILES=()
for d in "$@"; do
    [[ -f $d/results.tsv ]] || { echo "no results.tsv in $d" >&2; exit 2; }
    FILES+=("${d%/}/results.tsv")
done
awk -F'\t' '
    FNR == 1 { n++; split(FILENAME, parts, "/"); name[n] = parts[length(parts) - 1]; next }
    {
        if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 }
        if ($2 == "pass") { cell = "pass"; passed[n]++ }
        else {
            cell = toupper($2)
            if ($5 > 0) cell = cell " n" $5
            else if ($7 > 0 && $4 + $6 == 0) cell = cell " e" $7
            else if ($3 != 0) cell = cell " x" $3
        }
        v[$1, n] = cell; total[n]++
    }
    END {
        printf "| program |"; for (i = 1; i <= n; i++) printf " %s |", name[i]; print ""
        printf "|---|"; for (i = 1; i <= n; i++) printf "---|"; print ""
        for (j = 1; j <= np; j++) {
            p = order[j]; printf "| %s |", p
            for (i = 1; i <= n; i++) printf " %s |", ((p, i) in v ? v[p, i] : "-")
            print ""
        }
        printf "| **passed** |"; for (i = 1; i <= n; i++) printf " **%d / %d** |", passed[i], total[i]; print ""
    }' "${FILES[@]}"
