#compdef a2actl

_a2actl_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _A2ACTL_COMPLETE=complete_zsh a2actl)
}

compdef _a2actl_completion a2actl
