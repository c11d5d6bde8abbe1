"""Orchestration and policy: which files to read through the Root, in what order, and what a
missing one means. Parsers never decide that; the CLI never reads files.

system: meminfo/zoneinfo/vmstat/PSI for summary; procs: /proc/PID (with the prefetch);
cgroups: the memory hierarchy; views: zones, vmalloc, slab, shmem; report: their union.
Kept empty so that importing one part loads nothing else.
"""
