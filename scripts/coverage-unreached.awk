# SPDX-License-Identifier: GPL-2.0
#
# coverage-unreached.awk: the lines of an lcov tracefile that a run did not
# reach, each with its function, source text and the reason given for it in
# scripts/coverage-reasons.txt (or "unclassified").  Used by coverage.sh:
#
#   awk -f coverage-unreached.awk -v run=RUN.info -v ref=REF.info \
#       -v reasons=coverage-reasons.txt -v out=unreached.txt FILE...
#
# FILE... are the kernel files (e.g. mm/hmm.c) to report, in that order.
# A line is reported when run has it with count 0; "ref" marks the ones the
# reference run (test_hmm) reached.  For mm/huge_memory.c only the
# functions whose text mentions device-private or ZONE_DEVICE memory are
# reported (the rest of the file is not HMM's).  The function of a line is
# the one lcov lists with the nearest start line at or above it.
#
# Writes the list to out, and prints one line per file on stdout:
#   FILE<TAB>unreached<TAB>user<TAB>driver<TAB>no<TAB>unclassified
# (the classes of coverage-reasons.txt).
function trim(s)
{
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

# Reads tracefile f: hit[file SUBSEP line] = count, and the functions.
function load(f, which,    line, a, sf, key)
{
	while ((getline line < f) > 0) {
		if (line ~ /^SF:/) {
			sf = substr(line, 4)
			key = ""
			for (k = 1; k <= nfiles; k++)
				if (substr(sf, length(sf) - length(files[k]) + 1) == files[k])
					key = files[k]
			if (key != "")
				src[key] = sf
		} else if (key == "") {
			continue
		} else if (which == "run" && line ~ /^FN:/) {
			split(substr(line, 4), a, ",")
			nfn[key]++
			fnl[key, nfn[key]] = a[1] + 0
			fnn[key, nfn[key]] = a[2]
		} else if (line ~ /^DA:/) {
			split(substr(line, 4), a, ",")
			cnt[which, key, a[1] + 0] = a[2] + 0
			if (which == "run")
				da[key, a[1] + 0] = 1
		}
	}
	close(f)
}

# Line l (of the file in text[]) matches ERE pat; "A >> B": the three
# non-blank lines above it (joined by spaces) match A and it matches B.
function line_matches(pat, f, l,    i, k, n, prev)
{
	i = index(pat, " >> ")
	if (!i)
		return trim(text[l]) ~ pat
	prev = ""
	for (k = l - 1; k > 0 && n < 3; k--)
		if (trim(text[k]) != "") {
			prev = trim(text[k]) " " prev
			n++
		}
	return prev ~ substr(pat, 1, i - 1) && trim(text[l]) ~ substr(pat, i + 4)
}

# The function of line l of file f: index into fnl/fnn.
function func_of(f, l,    i, best, bl)
{
	best = 0
	bl = 0
	for (i = 1; i <= nfn[f]; i++)
		if (fnl[f, i] <= l && fnl[f, i] > bl) {
			bl = fnl[f, i]
			best = i
		}
	return best
}

BEGIN {
	FS = "\t"
	for (k = 1; k < ARGC; k++)
		files[++nfiles] = ARGV[k]
	ARGC = 1
	load(run, "run")
	if (ref != "")
		load(ref, "ref")
	# Reasons: FILE | FUNCTION | ERE or empty | CLASS | reason, the
	# fields separated by " | " (so an ERE may hold a bare "|").
	while ((getline line < reasons) > 0) {
		if (line ~ /^[ \t]*(#|$)/)
			continue
		n = split(line, a, / \| /)
		if (n < 5) {
			print "coverage-unreached.awk: " reasons ": bad line: " line > "/dev/stderr"
			continue
		}
		nr++
		rfile[nr] = trim(a[1])
		rfunc[nr] = trim(a[2])
		rpat[nr] = trim(a[3])
		if (rpat[nr] == "*")
			rpat[nr] = ""
		rclass[nr] = trim(a[4])
		rtext[nr] = trim(a[5])
		for (k = 6; k <= n; k++)
			rtext[nr] = rtext[nr] " | " a[k]
	}
	close(reasons)

	printf "" > out
	for (k = 1; k <= nfiles; k++) {
		f = files[k]
		if (!(f in src))
			continue
		# The source text, and the end of each function (next start - 1).
		nl = 0
		delete text
		while ((getline line < src[f]) > 0)
			text[++nl] = line
		close(src[f])
		for (i = 1; i <= nfn[f]; i++) {
			fend[i] = nl
			for (j = 1; j <= nfn[f]; j++)
				if (fnl[f, j] > fnl[f, i] && fnl[f, j] - 1 < fend[i])
					fend[i] = fnl[f, j] - 1
			hmmfn[i] = 1
			if (f == "mm/huge_memory.c") {
				hmmfn[i] = 0
				for (l = fnl[f, i]; l <= fend[i]; l++)
					if (text[l] ~ /device_private|zone_device|DEVICE_PRIVATE/)
						hmmfn[i] = 1
			}
		}
		delete ncls
		total = 0
		lastfn = ""
		for (l = 1; l <= nl; l++) {
			if (!((f, l) in da) || cnt["run", f, l] > 0)
				continue
			fi = func_of(f, l)
			if (!hmmfn[fi])
				continue
			fn = fi ? fnn[f, fi] : "?"
			t = trim(text[l])
			cls = "unclassified"
			why = ""
			for (r = 1; r <= nr; r++) {
				if (rfile[r] != f && rfile[r] != "*")
					continue
				if (rfunc[r] != fn && rfunc[r] != "*")
					continue
				if (rpat[r] != "" && !line_matches(rpat[r], f, l))
					continue
				cls = rclass[r]
				why = rtext[r]
				break
			}
			ncls[cls]++
			total++
			if (fn != lastfn) {
				printf "\n%s: %s()\n", f, fn >> out
				lastfn = fn
			}
			printf "  %5d %-12s %s%s\n", l, cls,
				(cnt["ref", f, l] > 0 ? "[test_hmm: hit] " : ""),
				t >> out
			if (why != "" && why != lastwhy[f, fn])
				printf "        ^ %s\n", why >> out
			lastwhy[f, fn] = why
		}
		printf "%s\t%d\t%d\t%d\t%d\t%d\n", f, total, ncls["user"] + 0,
			ncls["driver"] + 0, ncls["no"] + 0, ncls["unclassified"] + 0
	}
}
