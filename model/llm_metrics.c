/* llm_metrics.c - the model client's Prometheus families. */
#include "llm.h"
#include "metrics.h"

static lr_metric *m_seconds, *m_tokens, *m_errors;

void llm_metrics_init(void)
{
	m_seconds = lr_metric_histogram("llmrepl_model_request_seconds",
	                                "One chat completion, retries included.", NULL, NULL, 0);
	m_tokens =
	    lr_metric_counter("llmrepl_model_tokens_total",
	                      "Tokens the model server reported (or streamed), by type.", "type");
	m_errors = lr_metric_counter("llmrepl_model_errors_total",
	                             "Chat completions that failed, by kind of failure.", "kind");
	lr_metric_inc(m_tokens, 0, (const char *const[]){"prompt"});
	lr_metric_inc(m_tokens, 0, (const char *const[]){"completion"});
}

void llm_metrics_record(const llm_reply *r, double seconds, const char *failure)
{
	if (m_seconds == NULL)
		return;
	lr_metric_observe(m_seconds, seconds, NULL);
	if (r->prompt_tokens > 0)
		lr_metric_inc(m_tokens, (double)r->prompt_tokens, (const char *const[]){"prompt"});
	if (r->completion_tokens > 0)
		lr_metric_inc(m_tokens, (double)r->completion_tokens,
		              (const char *const[]){"completion"});
	if (failure != NULL)
		lr_metric_inc1(m_errors, failure);
}
