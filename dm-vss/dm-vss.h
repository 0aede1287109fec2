/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss: declarations shared by the files of the module.
 */
#ifndef DM_VSS_H
#define DM_VSS_H

#define DM_MSG_PREFIX "vss"
#define VSS_MODULE_VERSION "0.1.0"

int vss_cow_init(void);
void vss_cow_exit(void);
int vss_clone_init(void);
void vss_clone_exit(void);

/*
 * Test builds (make module-faults) measure how long the store's spinlock
 * is held by the index's long operations, and how long those take in all;
 * the figures are module parameters (dm-vss-cow.c).  Nothing otherwise.
 */
#ifdef VSS_FAULT_INJECT
void vss_fault_note_hold(u64 ns);
void vss_fault_note_walk(u64 ns);
#define vss_fault_clock()	ktime_get_ns()	/* <linux/timekeeping.h> */
#else
static inline void vss_fault_note_hold(u64 ns) { }
static inline void vss_fault_note_walk(u64 ns) { }
#define vss_fault_clock()	0
#endif

#endif
