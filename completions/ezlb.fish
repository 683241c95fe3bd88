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
        case 'ipam'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'allocate'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'subnet=' 'owner=' 'ip=' 'range-start=' 'range-end=' 'reserve=+' 'round-robin' 'version' 'h/help'
            case 'release'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'subnet=' 'ip=' 'owner=' 'version' 'h/help'
            case 'list'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'subnet=' 'owner=' 'version' 'h/help'
            end
        case 'bridge'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'create'
                __ezlb_parse_subcommand 1 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'subnet=' 'mtu=' 'no-masquerade' 'version' 'h/help'
            case 'delete'
                __ezlb_parse_subcommand 1 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'force' 'version' 'h/help'
            case 'connect'
                __ezlb_parse_subcommand 1 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'netns=' 'owner=' 'ifname=' 'ip=' 'version' 'h/help'
            case 'disconnect'
                __ezlb_parse_subcommand 1 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'owner=' 'version' 'h/help'
            case 'list'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            end
        case 'snat'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'sync'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            case 'show'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            case 'cleanup'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            end
        case 'xfrm'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'sync'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            case 'show'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'all' 'version' 'h/help'
            case 'cleanup'
                __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'version' 'h/help'
            end
        case 'raft'
            __ezlb_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'serve'
                __ezlb_parse_subcommand 0 'c/config=' 'node-id=' 'raft-addr=' 'data-dir=' 'log-level=' 'log-format=' 'o/output=' 'bootstrap' 'version' 'h/help'
            case 'join'
                __ezlb_parse_subcommand 0 'c/config=' 'node-id=' 'raft-addr=' 'data-dir=' 'log-level=' 'log-format=' 'o/output=' 'peer=' 'timeout=' 'version' 'h/help'
            case 'leave'
                __ezlb_parse_subcommand 0 'c/config=' 'node-id=' 'raft-addr=' 'data-dir=' 'log-level=' 'log-format=' 'o/output=' 'node=' 'peer=' 'timeout=' 'version' 'h/help'
            case 'status'
                __ezlb_parse_subcommand 0 'c/config=' 'node-id=' 'raft-addr=' 'data-dir=' 'log-level=' 'log-format=' 'o/output=' 'version' 'h/help'
            end
        case 'doctor'
            __ezlb_parse_subcommand 0 'c/config=' 'state-dir=' 'backend=' 'dry-run' 'o/output=' 'v/verbose' 'detailed-exitcode' 'fix' 'version' 'h/help'
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
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'ipam' -d 'Allocate and release IP addresses of a subnet (state in <state-dir>/ipam.json).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'bridge' -d 'Create bridges and connect network namespaces to them (veth, IPAM address, default route, MASQUERADE).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'snat' -d 'Reconcile the iptables rules FullNAT needs (SNAT/MASQUERADE towards backends, FORWARD accepts).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'xfrm' -d 'Reconcile IPsec (xfrm) policies and ESP states that encrypt traffic between managed pods on different nodes.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'raft' -d 'VIP failover: elect one Master through Raft (libraft) and run hooks on role changes.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb" -eq 1' -fa 'doctor' -d 'Check the host\'s preconditions for IPVS and FullNAT (sysctls, modules, iptables variant, xtables lock).'
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
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipam" -eq 1' -fa 'allocate' -d 'Allocate an address and print it (10.1.0.5/24).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipam" -eq 1' -fa 'release' -d 'Release an address (by --ip or --owner).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb ipam" -eq 1' -fa 'list' -d 'Show allocations with owners and times.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" subnet' -l 'subnet' -d 'The subnet, e.g. 10.1.0.0/24 or 2001:db8::/64.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" owner' -l 'owner' -d 'Who holds the address (container id, ...). Allocation is idempotent per owner and subnet.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" ip' -l 'ip' -d 'Ask for this address.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" range-start' -l 'range-start' -d 'First address new allocations may use.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" range-end' -l 'range-end' -d 'Last address new allocations may use.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate"' -l 'reserve' -d 'Never hand out these addresses (IP, A-B or CIDR; repeatable; adds to the config\'s ipam.reserved).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" round-robin' -l 'round-robin' -d 'Continue after the last address handed out instead of taking the lowest free one.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam allocate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" subnet' -l 'subnet' -d 'The subnet, e.g. 10.1.0.0/24 or 2001:db8::/64.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" ip' -l 'ip' -d 'The address to release.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" owner' -l 'owner' -d 'Release the address this owner holds.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam release" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" subnet' -l 'subnet' -d 'Only this subnet.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" owner' -l 'owner' -d 'Only this owner\'s addresses.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb ipam list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb bridge" -eq 1' -fa 'create' -d 'Create a bridge with the subnet\'s gateway address, up, with MASQUERADE for the subnet.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb bridge" -eq 1' -fa 'delete' -d 'Delete a bridge ezlb created: the link, its MASQUERADE chain and the subnet\'s addresses.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb bridge" -eq 1' -fa 'connect' -d 'Connect a network namespace to a bridge: veth, address from IPAM, default route via the gateway.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb bridge" -eq 1' -fa 'disconnect' -d 'Delete an owner\'s veth and release its address (idempotent).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb bridge" -eq 1' -fa 'list' -d 'Show bridges ezlb created, their subnets and connected owners with addresses.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" subnet' -l 'subnet' -d 'The bridge\'s subnet; its first usable address becomes the gateway.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" mtu' -l 'mtu' -d 'MTU of the bridge and its veths.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" no-masquerade' -l 'no-masquerade' -d 'Do not masquerade traffic leaving the subnet.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge create" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" force' -l 'force' -d 'Disconnect connected containers first.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge delete" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" netns' -l 'netns' -d 'The namespace: a name under /run/netns, a path, or a PID.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" owner' -l 'owner' -d 'Who the connection belongs to (container id); one connection per owner and bridge.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" ifname' -l 'ifname' -d 'Interface name inside the namespace.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" ip' -l 'ip' -d 'Ask for this address.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge connect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" owner' -l 'owner' -d 'The owner given to connect.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge disconnect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb bridge list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb snat" -eq 1' -fa 'sync' -d 'Make ezlb\'s FullNAT iptables chains match the config (full_nat services).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb snat" -eq 1' -fa 'show' -d 'Show the iptables chains ezlb manages, in iptables-save syntax (or JSON).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb snat" -eq 1' -fa 'cleanup' -d 'Remove ezlb\'s FullNAT chains, their rules and jumps, and nothing else.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat sync" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb snat cleanup" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb xfrm" -eq 1' -fa 'sync' -d 'Make ezlb\'s xfrm policies and ESP states match the ipsec: section of the config.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb xfrm" -eq 1' -fa 'show' -d 'Show ezlb\'s xfrm policies and ESP states as the kernel holds them (keys are never printed).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb xfrm" -eq 1' -fa 'cleanup' -d 'Remove ezlb\'s xfrm policies and ESP states, and nothing else (never a flush).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm sync" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" all' -l 'all' -d 'Also list policies and states ezlb does not own.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb xfrm cleanup" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb raft" -eq 1' -fa 'serve' -d 'Run this node: Raft election, hooks on role changes, the control endpoint.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb raft" -eq 1' -fa 'join' -d 'Add this node (its running serve, empty data_dir) to the cluster of --peer.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb raft" -eq 1' -fa 'leave' -d 'Remove this node (or --node ID) from the cluster, gracefully.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_positional "ezlb raft" -eq 1' -fa 'status' -d 'This node\'s role, term, leader, members and last hook event (from the running serve).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" c config' -s 'c' -l 'config' -d 'Raft config file (YAML, the vip-switch config.yaml format).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" node-id' -l 'node-id' -d 'Override node.id.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" raft-addr' -l 'raft-addr' -d 'Override node.raft_addr.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" data-dir' -l 'data-dir' -d 'Override node.data_dir.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" log-level' -l 'log-level' -d 'Override logging.level.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" log-format' -l 'log-format' -d 'Override logging.format.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" bootstrap' -l 'bootstrap' -d 'Create a new cluster with this node as its only voter.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" c config' -s 'c' -l 'config' -d 'Raft config file (YAML, the vip-switch config.yaml format).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" node-id' -l 'node-id' -d 'Override node.id.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" raft-addr' -l 'raft-addr' -d 'Override node.raft_addr.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" data-dir' -l 'data-dir' -d 'Override node.data_dir.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" log-level' -l 'log-level' -d 'Override logging.level.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" log-format' -l 'log-format' -d 'Override logging.format.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" peer' -l 'peer' -d 'A member\'s raft address.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" timeout' -l 'timeout' -d 'Give up after this many seconds (retries while no leader is elected).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft join" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" c config' -s 'c' -l 'config' -d 'Raft config file (YAML, the vip-switch config.yaml format).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" node-id' -l 'node-id' -d 'Override node.id.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" raft-addr' -l 'raft-addr' -d 'Override node.raft_addr.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" data-dir' -l 'data-dir' -d 'Override node.data_dir.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" log-level' -l 'log-level' -d 'Override logging.level.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" log-format' -l 'log-format' -d 'Override logging.format.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" node' -l 'node' -d 'Remove this member instead of the local node.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" peer' -l 'peer' -d 'A member\'s raft address to send the request to (default: the leader known to the local serve).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" timeout' -l 'timeout' -d 'Give up after this many seconds.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft leave" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" c config' -s 'c' -l 'config' -d 'Raft config file (YAML, the vip-switch config.yaml format).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" node-id' -l 'node-id' -d 'Override node.id.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" raft-addr' -l 'raft-addr' -d 'Override node.raft_addr.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" data-dir' -l 'data-dir' -d 'Override node.data_dir.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" log-level' -l 'log-level' -d 'Override logging.level.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" log-format' -l 'log-format' -d 'Override logging.format.' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb raft status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" c config' -s 'c' -l 'config' -d 'Config file (YAML).' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" state-dir' -l 'state-dir' -d 'State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]' -rfka ''
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" backend' -l 'backend' -d 'Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]' -rfka 'kernel fake'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" dry-run' -l 'dry-run' -d 'Print the plan; change nothing.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" o output' -s 'o' -l 'output' -d 'Result format on stdout.' -rfka 'text json'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor"' -s 'v' -l 'verbose' -d 'More detail on stderr (repeat for debug).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" detailed-exitcode' -l 'detailed-exitcode' -d 'Exit 2 (instead of 0) when something changed or would change.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" fix' -l 'fix' -d 'Set the sysctls that fail (with --dry-run: only say what would be set).'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" version' -l 'version' -d 'Show the version.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb doctor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ezlb' -n '__ezlb_should_offer_completions_for_flags_or_options "ezlb help" version' -l 'version' -d 'Show the version.'
