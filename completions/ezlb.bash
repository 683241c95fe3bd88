#!/bin/bash

__ezlb_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__ezlb_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__ezlb_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__ezlb_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_ezlb() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    ipvs|ipam|bridge|snat|xfrm|raft|doctor|help)
        # Offer subcommand argument completions
        "_ezlb_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'ipvs ipam bridge snat xfrm raft doctor help' -- "${cur}"))
        ;;
    esac
}

_ezlb_ipvs() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    apply|plan|show|health|cleanup)
        # Offer subcommand argument completions
        "_ezlb_ipvs_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'apply plan show health cleanup' -- "${cur}"))
        ;;
    esac
}

_ezlb_ipvs_apply() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --adopt --no-probe --allow-empty --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_ipvs_plan() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --adopt --no-probe --allow-empty --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_ipvs_show() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --managed --stats --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --format)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--format')
        __ezlb_add_completions -W 'table'$'\n''ipvsadm'
        return
        ;;
    esac
}

_ezlb_ipvs_health() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_ipvs_cleanup() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_ipam() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    allocate|release|list)
        # Offer subcommand argument completions
        "_ezlb_ipam_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'allocate release list' -- "${cur}"))
        ;;
    esac
}

_ezlb_ipam_allocate() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --round-robin --version -h --help)
    repeating_options=(--reserve)
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --subnet --owner --ip --range-start --range-end)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--subnet')
        return
        ;;
    '--owner')
        return
        ;;
    '--ip')
        return
        ;;
    '--range-start')
        return
        ;;
    '--range-end')
        return
        ;;
    '--reserve')
        return
        ;;
    esac
}

_ezlb_ipam_release() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --subnet --ip --owner)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--subnet')
        return
        ;;
    '--ip')
        return
        ;;
    '--owner')
        return
        ;;
    esac
}

_ezlb_ipam_list() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --subnet --owner)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--subnet')
        return
        ;;
    '--owner')
        return
        ;;
    esac
}

_ezlb_bridge() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    create|delete|connect|disconnect|list)
        # Offer subcommand argument completions
        "_ezlb_bridge_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'create delete connect disconnect list' -- "${cur}"))
        ;;
    esac
}

_ezlb_bridge_create() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --no-masquerade --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --subnet --mtu --firewall)
    __ezlb_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--subnet')
        return
        ;;
    '--mtu')
        return
        ;;
    '--firewall')
        __ezlb_add_completions -W 'auto'$'\n''nftables'$'\n''iptables'
        return
        ;;
    esac
}

_ezlb_bridge_delete() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --force --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_bridge_connect() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --netns --owner --ifname --ip)
    __ezlb_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--netns')
        __ezlb_add_completions -f
        return
        ;;
    '--owner')
        return
        ;;
    '--ifname')
        return
        ;;
    '--ip')
        return
        ;;
    esac
}

_ezlb_bridge_disconnect() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --owner)
    __ezlb_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--owner')
        return
        ;;
    esac
}

_ezlb_bridge_list() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_snat() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    sync|show|cleanup)
        # Offer subcommand argument completions
        "_ezlb_snat_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'sync show cleanup' -- "${cur}"))
        ;;
    esac
}

_ezlb_snat_sync() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --allow-empty --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --firewall)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--firewall')
        __ezlb_add_completions -W 'auto'$'\n''nftables'$'\n''iptables'
        return
        ;;
    esac
}

_ezlb_snat_show() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_snat_cleanup() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_xfrm() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    sync|show|cleanup)
        # Offer subcommand argument completions
        "_ezlb_xfrm_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'sync show cleanup' -- "${cur}"))
        ;;
    esac
}

_ezlb_xfrm_sync() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --allow-empty --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_xfrm_show() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --all --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_xfrm_cleanup() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_raft() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    serve|join|leave|status)
        # Offer subcommand argument completions
        "_ezlb_raft_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'serve join leave status' -- "${cur}"))
        ;;
    esac
}

_ezlb_raft_serve() {
    repeating_flags=()
    non_repeating_flags=(--bootstrap --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --node-id --raft-addr --data-dir --log-level --log-format -o --output --metrics-file)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        return
        ;;
    '--node-id')
        return
        ;;
    '--raft-addr')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--log-level')
        return
        ;;
    '--log-format')
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    esac
}

_ezlb_raft_join() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --node-id --raft-addr --data-dir --log-level --log-format -o --output --peer --timeout)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        return
        ;;
    '--node-id')
        return
        ;;
    '--raft-addr')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--log-level')
        return
        ;;
    '--log-format')
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--peer')
        return
        ;;
    '--timeout')
        return
        ;;
    esac
}

_ezlb_raft_leave() {
    repeating_flags=()
    non_repeating_flags=(--force --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --node-id --raft-addr --data-dir --log-level --log-format -o --output --node --peer --timeout)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        return
        ;;
    '--node-id')
        return
        ;;
    '--raft-addr')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--log-level')
        return
        ;;
    '--log-format')
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--node')
        return
        ;;
    '--peer')
        return
        ;;
    '--timeout')
        return
        ;;
    esac
}

_ezlb_raft_status() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --node-id --raft-addr --data-dir --log-level --log-format -o --output)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        return
        ;;
    '--node-id')
        return
        ;;
    '--raft-addr')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--log-level')
        return
        ;;
    '--log-format')
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    esac
}

_ezlb_doctor() {
    repeating_flags=(-v --verbose)
    non_repeating_flags=(--dry-run --detailed-exitcode -q --quiet --fix --version -h --help)
    repeating_options=()
    non_repeating_options=(-c --config --state-dir --backend -o --output --metrics-file --firewall)
    __ezlb_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '-c'|'--config')
        __ezlb_add_completions -o plusdirs -fX '!*.@(yaml|yml)'
        return
        ;;
    '--state-dir')
        __ezlb_add_completions -d
        return
        ;;
    '--backend')
        __ezlb_add_completions -W 'kernel'$'\n''fake'
        return
        ;;
    '-o'|'--output')
        __ezlb_add_completions -W 'text'$'\n''json'
        return
        ;;
    '--metrics-file')
        __ezlb_add_completions -o plusdirs -fX '!*.@(prom)'
        return
        ;;
    '--firewall')
        __ezlb_add_completions -W 'auto'$'\n''nftables'$'\n''iptables'
        return
        ;;
    esac
}

_ezlb_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __ezlb_offer_flags_options -1
}

complete -o filenames -F _ezlb ezlb
