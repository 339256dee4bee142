# Filters pip's output during `make setup`. The packages of frameworks-nodeps.txt are
# installed with --no-deps on purpose (their declared torchvision/torchaudio would replace
# the CPU torch with a CUDA build; what they import is in frameworks-deps.txt), so pip's
# resolver lists their missing requirements as conflicts on every later install. Those
# lines become one note; any other conflict is printed as pip wrote it.
/^ERROR: pip's dependency resolver does not currently take into account/ {
    header = $0; next
}
/^(spikingjelly|norse|tonic|nir|nirtorch) [^ ]+ requires [^ ]+, which is not installed\.$/ {
    hidden++; next
}
header != "" && / requires | has requirement / { print header }
{ header = ""; print }
END {
    if (hidden)
        print "note: pip's resolver lists " hidden " requirement" (hidden == 1 ? "" : "s") \
              " of spikingjelly/norse/tonic" \
              " as missing: harmless, they are installed with --no-deps on purpose " \
              "(see requirements/frameworks-nodeps.txt)"
}
