#!/bin/sh
# Installs cnibox onto a node from inside its container image, as CNI
# installer DaemonSets do: the node's plugin directory is mounted into the
# container (hostPath) and this script copies the binary there and makes the
# applet symlinks. Run it as an initContainer (it exits when done) or, with
# CNI_SLEEP=true, as the DaemonSet's long-running container.
#
# Environment:
#   CNI_BIN_DIR  the node's plugin directory as mounted here (default /host/opt/cni/bin)
#   CNIBOX       the binary to install (default /opt/cni/bin/cnibox, the image's)
#   CNI_FORCE    true: replace regular files in the way of an applet link (say,
#                plugins installed before); default: leave them and fail
#   CNI_SLEEP    true: keep running after installing
#
# The copy is written beside the target and renamed over it, so a runtime
# exec'ing a plugin meanwhile gets the old or the new binary, never a partial
# one (and no "text file busy"). An identical binary is not rewritten. The
# links are relative ("bridge -> cnibox"), so they are right on the node too.
set -eu

dest=${CNI_BIN_DIR:-/host/opt/cni/bin}
src=${CNIBOX:-/opt/cni/bin/cnibox}
force=
[ "${CNI_FORCE:-false}" = true ] && force=--force

log() { echo "install-cni: $*" >&2; }

[ -x "$src" ] || { log "$src: no such executable"; exit 1; }
mkdir -p "$dest"
if [ -f "$dest/cnibox" ] && cmp -s "$src" "$dest/cnibox"; then
    log "$dest/cnibox is up to date"
else
    rm -f "$dest/.cnibox.new"
    cp "$src" "$dest/.cnibox.new"
    chmod 0755 "$dest/.cnibox.new"
    mv -f "$dest/.cnibox.new" "$dest/cnibox"
    log "installed $dest/cnibox"
fi
# cnibox makes the links itself; run the installed copy so that they name it.
"$dest/cnibox" --install "$dest" $force
log "$("$dest/cnibox" --version | head -n 1), applets linked in $dest"

if [ "${CNI_SLEEP:-false}" = true ]; then
    # sleep in the background so that SIGTERM ends the container at once
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $!; done
fi
