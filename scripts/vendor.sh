#!/usr/bin/env bash
# Refresh the vendored front-end assets from the npm registry.
#
#   bash scripts/vendor.sh        (or: make vendor)
#
# Every package is fetched with `npm pack` into a temporary directory, its
# tarball integrity is checked against the pinned value below, and only the
# files the site needs are copied into the repo. Nothing is installed into
# node_modules and nothing is loaded from a CDN at run time.
#
# To upgrade a package: change its *_VERSION and *_INTEGRITY below
# (`npm view <pkg>@<version> dist.integrity`), re-run, review the diff.
set -euo pipefail

KRDS_PKG=krds-uiux
KRDS_VERSION=1.1.0
KRDS_INTEGRITY='sha512-4cjL3cpnlTaDrkivVceDpWhHxUYgV2AhiRRbO74I8ZKlnM17BcutEjPOlMOz9RQGAmdEubTsSYoyKFhvD1/g+A=='

# htmx: stay on the 2.0.x line (the registry's "latest" tag points at 4.x).
HTMX_PKG=htmx.org
HTMX_VERSION=2.0.11
HTMX_INTEGRITY='sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=='

AXE_PKG=axe-core
AXE_VERSION=4.14.1
AXE_INTEGRITY='sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=='

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/static/vendor"
KRDS_DEST="$VENDOR/krds"
HTMX_DEST="$VENDOR/htmx"
AXE_DEST="$ROOT/tests/browser/vendor"

command -v npm >/dev/null || { echo "vendor.sh: npm is required" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

die() { echo "vendor.sh: $*" >&2; exit 1; }

# fetch PKG VERSION EXPECTED_INTEGRITY -> extracts to $TMP/PKG/package
fetch() {
  local pkg="$1" version="$2" expected="$3" dir="$TMP/$1" json integrity tarball
  mkdir -p "$dir"
  json="$(cd "$dir" && npm pack "$pkg@$version" --ignore-scripts --json --pack-destination "$dir" 2>/dev/null)"
  integrity="$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{process.stdout.write(JSON.parse(s)[0].integrity)})')"
  tarball="$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{process.stdout.write(JSON.parse(s)[0].filename)})')"
  [[ "$integrity" == "$expected" ]] || die "$pkg@$version integrity mismatch: got $integrity, expected $expected"
  tar -xzf "$dir/$tarball" -C "$dir"
  echo "fetched $pkg@$version ($integrity)"
}

# check_css_urls CSS_FILE...: every url(...) and @import target must be a
# relative path to an existing file (data: URIs are skipped; absolute http(s)
# or protocol-relative URLs are an error because nothing may come from a CDN).
check_css_urls() {
  local css ref path base bad=0
  for css in "$@"; do
    base="$(dirname "$css")"
    while IFS= read -r ref; do
      [[ -z "$ref" ]] && continue
      case "$ref" in
        data:*) continue ;;
        http:*|https:*|//*) echo "  external URL in ${css#"$ROOT"/}: $ref" >&2; bad=1; continue ;;
      esac
      path="${ref%%[?#]*}"
      if [[ ! -f "$base/$path" ]]; then
        echo "  broken reference in ${css#"$ROOT"/}: $ref" >&2
        bad=1
      fi
    done < <(
      grep -oE 'url\([^)]*\)|@import[[:space:]]+["'"'"'][^"'"'"']+["'"'"']' "$css" \
        | sed -E 's/^url\([[:space:]]*//; s/[[:space:]]*\)$//; s/^@import[[:space:]]+//; s/^["'"'"']//; s/["'"'"']$//' \
        | sort -u
    )
  done
  [[ $bad -eq 0 ]] || die "CSS references are broken (see above)"
}

# ---------------------------------------------------------------- KRDS
fetch "$KRDS_PKG" "$KRDS_VERSION" "$KRDS_INTEGRITY"
KSRC="$TMP/$KRDS_PKG/package"
KRES="$KSRC/resources"

rm -rf "$KRDS_DEST"
mkdir -p "$KRDS_DEST/css/component" "$KRDS_DEST/css/token" "$KRDS_DEST/js/component" \
         "$KRDS_DEST/fonts" "$KRDS_DEST/img/component/icon"

# output.css = common (reset, base, layout) + all components; it @imports the
# design tokens from ../../css/token/krds_tokens.css. (component.css alone
# lacks the base styles and its icon paths are broken in this release, and
# cdn/krds.min.css points its icons at krds.go.kr, so neither is used.)
cp "$KRES/css/component/output.css" "$KRDS_DEST/css/component/output.css"
cp "$KRES/css/token/krds_tokens.css" "$KRDS_DEST/css/token/krds_tokens.css"
cp "$KRES/js/component/ui-script.js" "$KRDS_DEST/js/component/ui-script.js"

# Icons: exactly the SVGs the CSS references, at the same relative paths.
grep -oE 'url\([^)]*\)' "$KRDS_DEST/css/component/output.css" \
  | sed -E 's/^url\([[:space:]]*["'"'"']?//; s/["'"'"']?[[:space:]]*\)$//' \
  | grep -v '^data:' | sort -u \
  | while IFS= read -r ref; do
      rel="$(realpath -m --relative-to="$KRDS_DEST" "$KRDS_DEST/css/component/$ref")"
      case "$rel" in img/*) ;; *) die "unexpected CSS reference outside img/: $ref" ;; esac
      src="$KRES/$rel"
      [[ -f "$src" ]] || die "KRDS package lacks $rel referenced by output.css"
      mkdir -p "$KRDS_DEST/$(dirname "$rel")"
      cp "$src" "$KRDS_DEST/$rel"
    done

# Fonts: the package ships PretendardGOV but no @font-face rule; its tokens
# set --krds-typo-font-type: Pretendard GOV. Declare that family here.
FONT_CSS="$KRDS_DEST/css/pretendard-gov.css"
{
  echo "/* Generated by scripts/vendor.sh from $KRDS_PKG@$KRDS_VERSION resources/fonts."
  echo "   Declares the family the KRDS tokens use (--krds-typo-font-type). */"
} > "$FONT_CSS"
for spec in Regular:400 Medium:500 Bold:700; do
  name="${spec%%:*}" weight="${spec##*:}"
  file="PretendardGOV-$name.subset.woff2"
  [[ -f "$KRES/fonts/$file" ]] || die "KRDS package lacks resources/fonts/$file"
  cp "$KRES/fonts/$file" "$KRDS_DEST/fonts/$file"
  cat >> "$FONT_CSS" <<EOF
@font-face {
  font-family: "Pretendard GOV";
  font-style: normal;
  font-weight: $weight;
  font-display: swap;
  src: url("../fonts/$file") format("woff2");
}
EOF
done

# The package has no LICENSE file: package.json declares ISC, README refers
# to the KRDS terms of use. Keep the README and write a notice.
cp "$KSRC/README.md" "$KRDS_DEST/README.md"
cat > "$KRDS_DEST/NOTICE.txt" <<EOF
KRDS (Korea Responsive Design System) HTML component kit
npm package: $KRDS_PKG@$KRDS_VERSION ($KRDS_INTEGRITY)

The package's package.json declares "license": "ISC" and ships no LICENSE
file. Its README (copied here as README.md) states that the package follows
the KRDS terms of use (KRDS 이용약관), which apply in addition to the ISC
license: https://www.krds.go.kr/html/site/utility/utility_06.html

PretendardGOV fonts (fonts/) are shipped inside the same package.
css/pretendard-gov.css is generated by scripts/vendor.sh (not part of KRDS).
EOF

check_css_urls "$KRDS_DEST/css/component/output.css" "$KRDS_DEST/css/token/krds_tokens.css" "$FONT_CSS"

# ---------------------------------------------------------------- htmx
fetch "$HTMX_PKG" "$HTMX_VERSION" "$HTMX_INTEGRITY"
HSRC="$TMP/$HTMX_PKG/package"
rm -rf "$HTMX_DEST"
mkdir -p "$HTMX_DEST"
cp "$HSRC/dist/htmx.min.js" "$HTMX_DEST/htmx.min.js"
cp "$HSRC/LICENSE" "$HTMX_DEST/LICENSE"

# ---------------------------------------------------------------- axe-core
fetch "$AXE_PKG" "$AXE_VERSION" "$AXE_INTEGRITY"
ASRC="$TMP/$AXE_PKG/package"
mkdir -p "$AXE_DEST"
rm -f "$AXE_DEST/axe.min.js" "$AXE_DEST/axe-core.LICENSE" "$AXE_DEST/axe-core.LICENSE-3RD-PARTY.txt"
cp "$ASRC/axe.min.js" "$AXE_DEST/axe.min.js"
cp "$ASRC/LICENSE" "$AXE_DEST/axe-core.LICENSE"
cp "$ASRC/LICENSE-3RD-PARTY.txt" "$AXE_DEST/axe-core.LICENSE-3RD-PARTY.txt"

# ---------------------------------------------------------------- VERSIONS.md
list_files() { # DIR PREFIX
  (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | sed "s|^|- \`$2|; s|\$|\`|")
}
{
  echo "# Vendored front-end packages"
  echo
  echo "Generated by \`scripts/vendor.sh\` (\`make vendor\`); do not edit by hand."
  echo "All files come from the npm registry tarballs below (fetched with \`npm pack\`)."
  echo
  echo "| package | version | integrity |"
  echo "| --- | --- | --- |"
  echo "| $KRDS_PKG | $KRDS_VERSION | \`$KRDS_INTEGRITY\` |"
  echo "| $HTMX_PKG | $HTMX_VERSION | \`$HTMX_INTEGRITY\` |"
  echo "| $AXE_PKG | $AXE_VERSION | \`$AXE_INTEGRITY\` |"
  echo
  echo "## $KRDS_PKG $KRDS_VERSION (KRDS)"
  echo
  echo "License: ISC (per package.json; no LICENSE file shipped). **The KRDS terms of"
  echo "use (krds.go.kr, https://www.krds.go.kr/html/site/utility/utility_06.html)"
  echo "apply in addition to the ISC license.** See \`krds/NOTICE.txt\`."
  echo
  echo "Files (from \`resources/\` in the tarball, paths kept; icons limited to those"
  echo "the CSS references; \`css/pretendard-gov.css\` and \`NOTICE.txt\` are generated):"
  echo
  list_files "$KRDS_DEST" "static/vendor/krds/"
  echo
  echo "## $HTMX_PKG $HTMX_VERSION"
  echo
  echo "License: 0BSD (\`htmx/LICENSE\`)."
  echo
  list_files "$HTMX_DEST" "static/vendor/htmx/"
  echo
  echo "## $AXE_PKG $AXE_VERSION (browser tests only, not served)"
  echo
  echo "License: MPL-2.0 (\`axe-core.LICENSE\`, third-party notices alongside)."
  echo
  for f in axe.min.js axe-core.LICENSE axe-core.LICENSE-3RD-PARTY.txt; do
    echo "- \`tests/browser/vendor/$f\`"
  done
} > "$VENDOR/VERSIONS.md"

echo "vendored into static/vendor ($(du -sh "$VENDOR" | cut -f1)) and tests/browser/vendor"
