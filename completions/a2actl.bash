_a2actl_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _A2ACTL_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _a2actl_completion a2actl
