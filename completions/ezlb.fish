function __ezlb_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ezlb_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __ezlb_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ezlb_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __ezlb_parse_tokens -S
    set -l unparsed_tokens (__ezlb_tokens -pc)
    switch $unparsed_tokens[1]
    case 'ezlb'
        __ezlb_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'ipvs'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'apply'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'adopt' 'version' 'h/help'
            case 'plan'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'adopt' 'version' 'h/help'
            case 'show'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'format=' 'managed' 'version' 'h/help'
            case 'cleanup'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            end
        case 'help'
            __ezlb_parse_subcommand -r 1 'version'
        end
    end
end

function __ezlb_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __ezlb_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __ezlb_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __ezlb_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__ezlb_tokens -p)
    if test -z "$(__ezlb_tokens -t)"
        set -l index (count (__ezlb_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'ezlb' -f
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'ipvs' -d 'Reconcile IPVS virtual services and real servers with the config.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipvs" -eq 1' -fa 'apply' -d 'Make the kernel\'s IPVS table match the config (only services ezlb owns).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipvs" -eq 1' -fa 'plan' -d 'Print what \'ipvs apply\' would change (same as \'ipvs apply --dry-run\').'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipvs" -eq 1' -fa 'show' -d 'Show the kernel\'s IPVS table, marking the services ezlb manages.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipvs" -eq 1' -fa 'cleanup' -d 'Delete every IPVS service ezlb owns, and nothing else.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" adopt' -l 'adopt' -d 'Take over services that exist in the kernel on a configured key but were not created by ezlb. Also rebuilds a corrupted ipvs.json from config ∩ kernel.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs apply" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" adopt' -l 'adopt' -d 'Plan as if --adopt were given.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs plan" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" format' -l 'format' -d 'Text layout: table, or ipvsadm save syntax.' -rfka 'table ipvsadm'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" managed' -l 'managed' -d 'Show only the services ezlb manages.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipvs cleanup" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb help" version' -l 'version' -d 'Show the version.'
