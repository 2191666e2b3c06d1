/*
 * rwx_target: a process whose memory another one writes into.
 *
 * Maps one anonymous page read+write+execute (as a JIT would) holding a
 * `ret`, and prints "ready RWX TEXT DATA" (decimal addresses: the RWX
 * page, a function of its read-only code, a writable global), then waits
 * for a line on stdin. Each of the three is written only with the bytes
 * it already holds, so the process runs on unchanged.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile char data_byte = 42;

static int text_function(int x)
{
	return x + 1;
}

int main(void)
{
	unsigned char *rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[16];

	if (rwx == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	rwx[0] = 0xc3; /* ret */
	printf("ready %lu %lu %lu\n", (unsigned long)rwx, (unsigned long)&text_function,
	       (unsigned long)&data_byte);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	return text_function(data_byte) == 43 ? 0 : 1;
}
