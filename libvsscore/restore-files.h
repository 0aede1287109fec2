/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Copying a tree of files the way a restore needs it (restore-files.c):
 * every kind of file, with its owner, group, mode, timestamps, extended
 * attributes (ACLs and security.* are extended attributes too), hard links
 * and sparse holes.  Internal to libvsscore; the unit tests use it.
 */
#ifndef VSS_RESTORE_FILES_H
#define VSS_RESTORE_FILES_H

#include <stdbool.h>
#include <stdint.h>

struct vss_ctx;
struct vss_copy;

struct vss_copy_stats {
	uint64_t files, dirs, links, symlinks, specials;
	uint64_t data_bytes;		/* bytes read and written: holes are not */
	uint64_t xattrs;
	uint64_t xattrs_unsupported;	/* the destination refused them: warned */
};

/*
 * A copy session: hard links are kept between every tree copied in it
 * (when the destinations share a filesystem).  ctx may be NULL (no
 * messages).  Returns NULL when out of memory.
 */
struct vss_copy *vss_copy_new(struct vss_ctx *ctx);
void vss_copy_free(struct vss_copy *c);
const struct vss_copy_stats *vss_copy_stats(const struct vss_copy *c);

/*
 * Copy src (a file of any kind, or a directory and everything below it,
 * never following a symbolic link) to dst, which must not exist; its
 * parent must.  Ownership is kept when the caller may give it (root);
 * timestamps are set last, directories' after their content.  Nothing is
 * synced: vss_copy_sync() does.  Returns 0 or -errno, the file that failed
 * logged as "PATH: cannot copy: why".
 */
int vss_copy_tree(struct vss_copy *c, const char *src, const char *dst);

/* Make what was copied into the filesystem holding path durable (syncfs). */
int vss_copy_sync(struct vss_copy *c, const char *path);

/*
 * Create the missing directories above dst, each like the directory at the
 * same depth above src (owner, mode, times) when there is one, else
 * root's, mode 0755: src and dst end in the same path.
 */
int vss_copy_parents(struct vss_copy *c, const char *src, const char *dst);

/* rm -rf path, not crossing into other filesystems; a missing path is 0. */
int vss_remove_tree(const char *path);

#endif
