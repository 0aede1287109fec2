/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A device-mapper stand-in for the fuzz targets: libvsscore/dm.c replaced
 * by a table of devices the target sets from its input, so that the
 * library's parsers of tables and status lines run on fuzzed text with no
 * kernel, and nothing the library asks of device-mapper touches the host.
 */
#ifndef FUZZ_FAKE_DM_H
#define FUZZ_FAKE_DM_H

#include <stddef.h>

/* Forget every device. */
void fake_dm_reset(void);

/*
 * Set the devices from text, one target a line:
 *   <name> <table|status> <type> [<params>...]
 * Several lines of one name and kind make a device of several targets;
 * a name never mentioned does not exist.  Malformed lines are skipped.
 */
void fake_dm_parse(const char *text, size_t len);

/* How many calls changed a device (create, load, suspend, remove, message). */
unsigned long fake_dm_changes(void);

#endif
