/**
 * An error after which the sequencer must stop signing: the database and what was published
 * disagree, the stored tiles do not rebuild the stored root, or signing fails. The process
 * stops; a restart recovers where the cause was transient, the operator must act otherwise.
 */
export class FatalSequencerError extends Error {
  override name = 'FatalSequencerError';
}
