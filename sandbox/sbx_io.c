/* sbx_io.c - a run's streams (see sbx_io.h). */
#include "sbx_io.h"

#include "sbx_base.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

void sbx_io_init(sbx_io *io)
{
	for (int i = 0; i < 2; i++)
		io->out[i] = io->err[i] = io->ans[i] = io->req[i] = -1;
}

int sbx_io_open(sbx_io *io)
{
	if (pipe2(io->out, O_CLOEXEC) < 0 || pipe2(io->err, O_CLOEXEC) < 0 ||
	    pipe2(io->ans, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io->req) < 0) {
		int e = errno;

		sbx_io_close(io);
		errno = e;
		return -1;
	}
	return 0;
}

void sbx_io_handed(sbx_io *io)
{
	sbx_close_fd(&io->out[1]);
	sbx_close_fd(&io->err[1]);
	sbx_close_fd(&io->ans[1]);
	sbx_close_fd(&io->req[1]);
	shutdown(io->req[0], SHUT_RD);
	sbx_set_nonblock(io->out[0]);
	sbx_set_nonblock(io->err[0]);
	sbx_set_nonblock(io->ans[0]);
	sbx_set_nonblock(io->req[0]);
}

void sbx_io_send(sbx_io *io, const char *request, size_t len, size_t *sent)
{
	ssize_t w = send(io->req[0], request + *sent, len - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w > 0)
		*sent += (size_t)w;
	if ((w < 0 && errno != EAGAIN && errno != EINTR) || *sent >= len)
		sbx_close_fd(&io->req[0]);
}

void sbx_io_close(sbx_io *io)
{
	for (int i = 0; i < 2; i++) {
		sbx_close_fd(&io->out[i]);
		sbx_close_fd(&io->err[i]);
		sbx_close_fd(&io->ans[i]);
		sbx_close_fd(&io->req[i]);
	}
}
