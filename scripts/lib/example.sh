# Shared by scripts/demo and scripts/measure-outage-plan (sourced, not run): a scratch copy of
# examples/multi-master that runs on its own — the module it calls copied beside it, its source
# pointed at the copy. Expects $root (the repository) to be set.

# copy_example DIR: examples/multi-master and modules/multi-master into DIR.
copy_example() {
  local dir="$1"
  cp -r "$root/examples/multi-master/." "$dir/"
  mkdir -p "$dir/modules"
  cp -r "$root/modules/multi-master" "$dir/modules/"
  sed -i 's#"../../modules/multi-master"#"./modules/multi-master"#' "$dir/main.hcl"
}
