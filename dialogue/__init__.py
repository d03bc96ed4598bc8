"""NLU, dialogue state, policy and response generation (issue: the Recommendation Dialogue
Model). Talks to retrieval only through a protocol that `assistant` wires up."""
