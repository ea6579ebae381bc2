# bash completion for beanpole(1). Install as
#   /usr/share/bash-completion/completions/beanpole
# or source it from ~/.bashrc. Tube names are asked of the server that the command line
# names (-a/--addr, else $BEANSTALKD_ADDR), with a short timeout.
#
# bash splits the words it hands over at the characters of $COMP_WORDBREAKS, ':' and '='
# among them, so `-a 127.0.0.1:11300` arrives as -a 127.0.0.1 : 11300 and `--addr=HOST:PORT`
# as --addr = HOST : PORT. _beanpole_words puts such words back together first: beanpole never
# takes ':' or '=' as an argument of its own.

_beanpole_commands="put reserve work release bury touch delete kick kick-job pause-tube peek
  peek-ready peek-delayed peek-buried stats stats-tube stats-job list-tubes list-tube-used
  list-tubes-watched top export import move flush exporter console"

# Sets _bp_words (COMP_WORDS with the pieces of HOST:PORT and --opt=value joined again) and
# _bp_cword (the index of the word being completed in it).
_beanpole_words() {
  _bp_words=()
  _bp_cword=0
  local i n=${#COMP_WORDS[@]} w glue=0
  for ((i = 0; i < n; i++)); do
    w=${COMP_WORDS[i]}
    if ((i > 1)) && [[ -n "$w" && "$w" != *[!:=]* ]]; then
      # Only ':' and '=': part of the previous word, and the next one is part of it too.
      _bp_words[${#_bp_words[@]} - 1]+=$w
      glue=1
    elif ((glue)) && [[ -n "$w" ]]; then
      _bp_words[${#_bp_words[@]} - 1]+=$w
      glue=0
    else
      _bp_words+=("$w")
      glue=0
    fi
    ((i == COMP_CWORD)) && _bp_cword=$((${#_bp_words[@]} - 1))
  done
  # The cursor right after a ':' or '=', in an empty word of its own.
  ((COMP_CWORD >= n)) && _bp_cword=${#_bp_words[@]}
}

_beanpole_tubes() {
  local -a addr=()
  local i
  for ((i = 1; i < _bp_cword; i++)); do
    case "${_bp_words[i]}" in
      -a | --addr) addr=(--addr "${_bp_words[i + 1]}") ;;
      --addr=*) addr=("${_bp_words[i]}") ;;
      -a?*) addr=(--addr "${_bp_words[i]#-a}") ;;
    esac
  done
  "${_bp_words[0]}" "${addr[@]}" --timeout 2 list-tubes 2>/dev/null
}

_beanpole_options() {
  case "$1" in
    put) echo "-t --tube -p --pri -d --delay -r --ttr --lines --placement --retries -h --help" ;;
    reserve) echo "-w --watch --wait --job --delete --bury --release --exec --pri --delay -h --help" ;;
    work) echo "-w --watch --concurrency --max-attempts --backoff --backoff-max --grace --metrics-port -h --help" ;;
    kick) echo "-t --tube -h --help" ;;
    peek-ready | peek-delayed | peek-buried) echo "-t --tube -h --help" ;;
    top) echo "-i --interval -n --iterations -t --tube -h --help" ;;
    export) echo "-t --tube --all --buried --delayed -o --output --retries -h --help" ;;
    import) echo "-t --tube -h --help" ;;
    move) echo "--from --to --state --limit -h --help" ;;
    flush) echo "--state -y --yes -h --help" ;;
    exporter) echo "--listen --allow-remote -h --help" ;;
    console) echo "--listen --allow-remote --auth-file -h --help" ;;
    *) echo "-h --help" ;;
  esac
}

_beanpole() {
  local _bp_words _bp_cword
  _beanpole_words
  local cur="${_bp_words[_bp_cword]}"
  local prev="${_bp_words[_bp_cword - 1]}"
  local command="" i positionals=0

  # Find the command, skipping global options and their values.
  for ((i = 1; i < _bp_cword; i++)); do
    local w="${_bp_words[i]}"
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
          --from | --to | --state | --limit | --listen | --auth-file | --placement | --retries | \
          --tls-ca | --tls-cert | --tls-key | --tls-server-name)
          ((i++)) ;;
        --) break ;;
        -*) ;;
        *) ((positionals++)) ;;
      esac
    fi
  done

  _beanpole_complete "$command" "$prev" "$cur" "$positionals"
  # bash replaces only what follows the last ':' or '=' of the word: drop what precedes it.
  if [[ "$cur" == *[:=]* ]]; then
    local lead=${cur%"${cur##*[:=]}"} k
    for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=${COMPREPLY[k]#"$lead"}; done
  fi
  return 0
}

# _beanpole_complete COMMAND PREV CUR POSITIONALS: fills COMPREPLY.
_beanpole_complete() {
  local command=$1 prev=$2 cur=$3 positionals=$4
  case "$prev" in
    -a | --addr | --timeout | -p | --pri | -d | --delay | -r | --ttr | --wait | --job | -i | \
      --interval | -n | --iterations | --concurrency | --max-attempts | --backoff | --backoff-max | \
      --grace | --metrics-port | --limit | --listen | --retries | --tls-server-name)
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
