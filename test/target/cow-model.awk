# SPDX-License-Identifier: GPL-2.0
# The chunk-level model of a vss-origin store, for the cow-*.bats tests:
# which chunks a write copies, which copies a delete frees, which snapshot
# an overflow drops.  It predicts the status counters; the content itself
# is checked by sha256.
#
#   awk -v op=OP -v args="ARG..." -v state=STATE -f cow-model.awk STATE
#
# STATE holds one item per line:
#   chunk <bytes>        cap <data chunks, 0 = unlimited>
#   policy drop|invalidate                last <last epoch given>
#   snap <id> <epoch> valid|invalid|dropped
#   rec <chunk> <epoch>...   (the copies of an origin chunk in the store)
#   droplog <id>...          (snapshots dropped by overflows, in order)
# Operations that change the model write STATE.new; queries print.
#   init <chunk bytes> <cap> <policy>
#   create <id>            write <offset> <length>     retire <state> <id>...
#   used                   copied <id>                 state <id>
#   dropped                live                        counters
#
# The rules: a write to chunk c copies it when its newest copy is older
# than the newest valid snapshot, labelled with that snapshot's epoch.  A
# copy of epoch e serves the valid snapshots with epochs in (the previous
# copy of c, e]; a copy serving none is free space.  When the store is
# full, the oldest valid snapshot is dropped (or, with the invalidate
# policy, every valid snapshot is invalidated) until the copy fits.

function sort_live(   i, j, t) {
	nlive = 0
	for (id in sepoch)
		if (sstate[id] == "valid")
			live[++nlive] = sepoch[id] + 0
	for (i = 2; i <= nlive; i++)
		for (j = i; j > 1 && live[j - 1] > live[j]; j--) {
			t = live[j]; live[j] = live[j - 1]; live[j - 1] = t
		}
}

# Keeps only the copies some valid snapshot reads.
function free_dead(   c, n, i, j, k, e, prev, out, E, used_now, keep) {
	sort_live()
	used = 0
	for (c in rec) {
		n = split(rec[c], E, " ")
		out = ""
		for (i = 1; i <= n; i++) {
			e = E[i] + 0; prev = 0
			for (j = 1; j <= n; j++)
				if (E[j] + 0 < e && E[j] + 0 > prev)
					prev = E[j] + 0
			keep = 0
			for (k = 1; k <= nlive; k++)
				if (live[k] > prev && live[k] <= e) { keep = 1; break }
			if (keep) { out = out " " e; used++ }
		}
		if (out == "")
			delete rec[c]
		else
			rec[c] = substr(out, 2)
	}
}

function retire(state, id) {
	sstate[id] = state
}

function overflow(   id, oldest) {
	oldest = ""
	for (id in sstate) {
		if (sstate[id] != "valid")
			continue
		if (policy == "invalidate")
			retire("invalid", id)
		else if (oldest == "" || sepoch[id] + 0 < sepoch[oldest] + 0)
			oldest = id
	}
	if (oldest != "") {
		retire("dropped", oldest)
		droplog = droplog " " oldest
	}
	free_dead()
}

function touch(c,   n, i, E, latest) {
	for (;;) {
		if (!nlive)
			return
		latest = 0
		n = split((c in rec) ? rec[c] : "", E, " ")
		for (i = 1; i <= n; i++)
			if (E[i] + 0 > latest)
				latest = E[i] + 0
		if (latest >= live[nlive])
			return
		if (cap && used >= cap) {
			overflow()
			continue
		}
		rec[c] = (c in rec) ? rec[c] " " live[nlive] : live[nlive]
		used++
		return
	}
}

function save(   f, id, c) {
	f = state ".new"
	printf "chunk %d\ncap %d\npolicy %s\nlast %d\n", chunk, cap, policy, last > f
	for (id in sstate)
		printf "snap %s %d %s\n", id, sepoch[id], sstate[id] > f
	for (c in rec)
		printf "rec %s %s\n", c, rec[c] > f
	printf "droplog%s\n", droplog > f
	close(f)
}

$1 == "chunk" { chunk = $2 + 0 }
$1 == "cap" { cap = $2 + 0 }
$1 == "policy" { policy = $2 }
$1 == "last" { last = $2 + 0 }
$1 == "snap" { sepoch[$2] = $3; sstate[$2] = $4 }
$1 == "rec" { c = $2; $1 = ""; $2 = ""; rec[c] = substr($0, 3); used += NF - 2 }
$1 == "droplog" { $1 = ""; droplog = $0 }

END {
	na = split(args, A, " ")
	sort_live()
	if (op == "init") {
		chunk = A[1] + 0; cap = A[2] + 0; policy = A[3]; last = 0
		for (id in sstate) { delete sstate[id]; delete sepoch[id] }
		for (c in rec) delete rec[c]
		droplog = ""
		save()
	} else if (op == "create") {
		last++
		sepoch[A[1]] = last
		sstate[A[1]] = "valid"
		save()
	} else if (op == "write") {
		if (chunk && nlive)
			for (c = int(A[1] / chunk); c <= int((A[1] + A[2] - 1) / chunk); c++)
				touch(c)
		save()
	} else if (op == "retire") {
		for (i = 2; i <= na; i++) {
			if (A[1] == "deleted") {
				delete sstate[A[i]]; delete sepoch[A[i]]
			} else {
				retire(A[1], A[i])
			}
		}
		free_dead()
		save()
	} else if (op == "used") {
		print used + 0
	} else if (op == "copied") {
		e = sepoch[A[1]] + 0; n = 0
		for (c in rec) {
			m = split(rec[c], E, " ")
			for (i = 1; i <= m; i++)
				if (E[i] + 0 >= e) { n++; break }
		}
		print n
	} else if (op == "counters") {
		# "used N", then "ID COPIED" for every valid snapshot
		print "used", used + 0
		for (id in sstate) {
			if (sstate[id] != "valid")
				continue
			e = sepoch[id] + 0; n = 0
			for (c in rec) {
				m = split(rec[c], E, " ")
				for (i = 1; i <= m; i++)
					if (E[i] + 0 >= e) { n++; break }
			}
			print id, n
		}
	} else if (op == "state") {
		print (A[1] in sstate) ? sstate[A[1]] : "none"
	} else if (op == "dropped") {
		print substr(droplog, 2)
	} else if (op == "live") {
		out = ""
		for (i = 1; i <= nlive; i++)
			out = out " " live[i]
		print substr(out, 2)
	} else {
		print "cow-model.awk: unknown operation " op > "/dev/stderr"
		exit 1
	}
}
