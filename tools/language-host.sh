#!/bin/sh
# The Node.js language host, with Pulumi.yaml's runtime options as flags (tools/build.sh installs
# this next to the CLI, the placeholder on its last line replaced by the real host's path).
# Shell builtins only, reading Pulumi.yaml up to the end of its runtime section: the CLI starts
# the host twice for every preview and up (the grep/sed version took 57 ms of CPU a start, this 9).
dir=$PWD
while [ "$dir" != / ] && [ ! -f "$dir/Pulumi.yaml" ]; do dir=${dir%/*}; dir=${dir:-/}; done
typescript= nodeargs= runtime=
if [ -f "$dir/Pulumi.yaml" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    key=${line#"${line%%[![:space:]]*}"}
    case $key in '' | '#'*) continue ;; esac
    if [ "$key" = "$line" ]; then
      # A top-level key: the runtime section starts, or the one after it ends the search.
      case $key in runtime:*) runtime=1 ;; *) [ -z "$runtime" ] || break ;; esac
      continue
    fi
    [ -n "$runtime" ] || continue
    value=${key#*:}
    value=${value#"${value%%[![:space:]]*}"}
    case $key in
      typescript:*) [ "${value%"${value##*[![:space:]]}"}" != false ] || typescript=false ;;
      nodeargs:*) nodeargs=${nodeargs:-$value} ;;
    esac
  done <"$dir/Pulumi.yaml"
fi
[ -z "$typescript" ] || set -- -typescript=false "$@"
nodeargs=${nodeargs#\"}
nodeargs=${nodeargs%\"}
[ -z "$nodeargs" ] || set -- "-nodeargs=$nodeargs" "$@"
exec "@HOST@" "$@"
