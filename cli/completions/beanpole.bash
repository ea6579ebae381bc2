# bash completion for beanpole(1). Install as
#   /usr/share/bash-completion/completions/beanpole
# or source it from ~/.bashrc. Tube names are asked of the server that the command line
# names (-a/--addr, else $BEANSTALKD_ADDR), with a short timeout.

_beanpole_commands="put reserve work release bury touch delete kick kick-job pause-tube peek
  peek-ready peek-delayed peek-buried stats stats-tube stats-job list-tubes list-tube-used
  list-tubes-watched top export import move flush exporter console"

_beanpole_tubes() {
  local -a addr=()
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -a | --addr) addr=(--addr "${COMP_WORDS[i + 1]}") ;;
      --addr=*) addr=("${COMP_WORDS[i]}") ;;
    esac
  done
  "${COMP_WORDS[0]}" "${addr[@]}" --timeout 2 list-tubes 2>/dev/null
}

_beanpole_options() {
  case "$1" in
    put) echo "-t --tube -p --pri -d --delay -r --ttr --lines --placement -h --help" ;;
    reserve) echo "-w --watch --wait --job --delete --bury --release --exec --pri --delay -h --help" ;;
    work) echo "-w --watch --concurrency --max-attempts --backoff --backoff-max --grace --metrics-port -h --help" ;;
    kick) echo "-t --tube -h --help" ;;
    peek-ready | peek-delayed | peek-buried) echo "-t --tube -h --help" ;;
    top) echo "-i --interval -n --iterations -t --tube -h --help" ;;
    export) echo "-t --tube --all --buried -o --output -h --help" ;;
    import) echo "-t --tube -h --help" ;;
    move) echo "--from --to --state --limit -h --help" ;;
    flush) echo "--state -y --yes -h --help" ;;
    exporter) echo "--listen --allow-remote -h --help" ;;
    console) echo "--listen --allow-remote --auth-file -h --help" ;;
    *) echo "-h --help" ;;
  esac
}

_beanpole() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local prev="${COMP_WORDS[COMP_CWORD - 1]}"
  local command="" i positionals=0

  # Find the command, skipping global options and their values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    local w="${COMP_WORDS[i]}"
    if [[ -z "$command" ]]; then
      case "$w" in
        -a | --addr | --timeout | --tls-ca | --tls-cert | --tls-key | --tls-server-name) ((i++)) ;;
        -*) ;;
        *) command="$w" ;;
      esac
    else
      case "$w" in
        -t | --tube | -w | --watch | -p | --pri | -d | --delay | -r | --ttr | --wait | --job | \
          --exec | -i | --interval | -n | --iterations | -o | --output | -a | --addr | --timeout | \
          --concurrency | --max-attempts | --backoff | --backoff-max | --grace | --metrics-port | \
          --from | --to | --state | --limit | --listen | --auth-file | --placement | --tls-ca | \
          --tls-cert | --tls-key | --tls-server-name)
          ((i++)) ;;
        --) break ;;
        -*) ;;
        *) ((positionals++)) ;;
      esac
    fi
  done

  case "$prev" in
    -a | --addr | --timeout | -p | --pri | -d | --delay | -r | --ttr | --wait | --job | -i | \
      --interval | -n | --iterations | --concurrency | --max-attempts | --backoff | --backoff-max | \
      --grace | --metrics-port | --limit | --listen | --tls-server-name)
      return 0 ;;
    --placement)
      COMPREPLY=($(compgen -W "round-robin tube" -- "$cur"))
      return 0 ;;
    --state)
      if [[ "$command" == flush ]]; then
        COMPREPLY=($(compgen -W "ready delayed buried all" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "ready delayed buried" -- "$cur"))
      fi
      return 0 ;;
    -t | --tube | -w | --watch | --from | --to)
      COMPREPLY=($(compgen -W "$(_beanpole_tubes)" -- "$cur"))
      return 0 ;;
    --exec)
      COMPREPLY=($(compgen -c -- "$cur"))
      return 0 ;;
    -o | --output | --auth-file | --tls-ca | --tls-cert | --tls-key)
      COMPREPLY=($(compgen -f -- "$cur"))
      return 0 ;;
  esac

  if [[ -z "$command" ]]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "-a --addr --json --timeout --tls-ca --tls-cert --tls-key
        --tls-server-name -h --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$_beanpole_commands" -- "$cur"))
    fi
    return 0
  fi

  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_beanpole_options "$command")" -- "$cur"))
    return 0
  fi
  case "$command" in
    stats-tube | pause-tube | flush)
      if ((positionals == 0)); then
        COMPREPLY=($(compgen -W "$(_beanpole_tubes)" -- "$cur"))
      fi ;;
    import)
      COMPREPLY=($(compgen -f -- "$cur")) ;;
    work)
      # After "--": CMD, then its arguments.
      if [[ "$prev" == "--" ]]; then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
  esac
  return 0
}

complete -F _beanpole beanpole
