// SPDX-License-Identifier: GPL-2.0
/*
 * patchbot guest check: allocate a buffer from the dma-buf system heap, map it,
 * write a pattern through the mapping and read it back.  Built with gcc -static
 * against the tree's UAPI header and run by the initramfs /init; the host reads
 * the single PATCHBOT-DMAHEAP= line it prints on the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#define HEAP_PATH "/dev/dma_heap/system"
#define BUF_LEN (4UL << 20)	/* 4 MiB: many pages, more than one order */

static int fail(const char *what)
{
	printf("PATCHBOT-DMAHEAP=FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	return 1;
}

int main(void)
{
	struct dma_heap_allocation_data alloc;
	uint32_t *words;
	size_t i, n = BUF_LEN / sizeof(*words);
	int heap;

	heap = open(HEAP_PATH, O_RDWR | O_CLOEXEC);
	if (heap < 0)
		return fail("open " HEAP_PATH);

	memset(&alloc, 0, sizeof(alloc));
	alloc.len = BUF_LEN;
	alloc.fd_flags = O_RDWR | O_CLOEXEC;
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0)
		return fail("DMA_HEAP_IOCTL_ALLOC");

	words = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, alloc.fd, 0);
	if (words == MAP_FAILED)
		return fail("mmap");

	/* an address-dependent pattern catches pages mapped twice or out of order */
	for (i = 0; i < n; i++)
		words[i] = (uint32_t)(i * 2654435761u) ^ 0x5a5aa5a5u;
	for (i = 0; i < n; i++) {
		if (words[i] != ((uint32_t)(i * 2654435761u) ^ 0x5a5aa5a5u)) {
			printf("PATCHBOT-DMAHEAP=FAIL mismatch at word %zu\n", i);
			fflush(stdout);
			return 1;
		}
	}
	munmap(words, BUF_LEN);
	close((int)alloc.fd);
	close(heap);
	printf("PATCHBOT-DMAHEAP=PASS %lu bytes\n", BUF_LEN);
	fflush(stdout);
	return 0;
}
