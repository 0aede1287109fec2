// SPDX-License-Identifier: GPL-2.0
/*
 * A module whose loading logs a real kernel WARNING, and nothing else:
 * test/cli/harness.bats loads it in a throwaway VM to prove that
 * scripts/vm-run fails a run whose kernel warned.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init vss_warn_test_init(void)
{
	WARN(1, "vss_warn_test: a deliberate warning\n");
	return 0;
}

static void __exit vss_warn_test_exit(void)
{
}

module_init(vss_warn_test_init);
module_exit(vss_warn_test_exit);

MODULE_DESCRIPTION("Logs a WARNING when loaded (test of the dm-vss VM harness)");
MODULE_LICENSE("GPL");
