-- analysis/settings.sql (version 5): the name patterns that give ranges their meaning.
-- Reads: nothing.   Used by: analysis/module_ranges.sql, analysis/host_ranges.sql,
--        report/report_views.sql.
-- Defaults understand Anemoi on PyTorch Lightning, and plain torch.profiler traces through the
-- phase fallbacks; a TOML file (`--config`) replaces the patterns of a kind (see
-- anemoi_tp/config.py).
--
-- @table analysis_patterns  regular expressions (RE2, matched on whole range names)
-- @column kind         'batch' (one training batch), 'step' (fallback batch: ProfilerStep#N),
--                      'data_loader' (data loading: the data-loader time, the batch's fetch and
--                      the phase 'data_loader', one definition for all three),
--                      'phase' (a training phase, label = which), 'phase_fallback' (a phase
--                      on ranks with no range of that phase from the 'phase' patterns: traces
--                      without Lightning), 'module' (a module range: group 1 of the pattern is
--                      the module path), 'module_instance' (a module range: group 1 is one
--                      class instance; the path is made of the nested instance ranges,
--                      module_ranges.sql), 'module_group' (a group of module paths, matched on
--                      each prefix of the path: the shortest matching prefix decides)
-- @column label        the phase (forward, backward, optimizer) or module group (encoder,
--                      processor, decoder, or a configured one); NULL for the other kinds
-- @column pattern      the regular expression
-- @column priority     where several patterns of a kind match one name, the lowest wins
-- @column label_order  where the label's part shows in the window split (1, 2, …; phases and
--                      module groups, configured ones after the defaults); NULL for the others
CREATE TABLE IF NOT EXISTS analysis_patterns (
    kind VARCHAR, label VARCHAR, pattern VARCHAR, priority INTEGER, label_order INTEGER
);
INSERT INTO analysis_patterns
SELECT * FROM (VALUES
    ('batch', NULL, '^\[pl\]\[profile\]run_training_batch$', 1, NULL),
    ('step', NULL, '^ProfilerStep#\d+$', 1, NULL),
    ('data_loader', NULL, '^\[pl\]\[profile\]\[_TrainingEpochLoop\]\.train_dataloader_next$', 1, NULL),
    ('data_loader', NULL, '^enumerate\(DataLoader\)#', 2, NULL),
    ('phase', 'forward', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.training_step$', 1, 1),
    ('phase', 'backward', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.backward$', 1, 2),
    ('phase', 'optimizer', '^\[pl\]\[profile\]\[LightningModule\][^\]]*\.optimizer_step$', 1, 3),
    ('phase', 'optimizer', '^Optimizer\.(step|zero_grad)#', 2, 3),
    ('phase', 'optimizer', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.optimizer_zero_grad$', 3, 3),
    -- without Lightning (DESIGN.md): the model's forward call, else the rest of a profiler
    -- step is forward; autograd's node calls (on the main thread on CPU, on autograd threads
    -- on GPU; checkpoint recompute runs inside them) and torch's `## backward ##` are backward
    ('phase_fallback', 'forward', '^## forward ##$', 1, 1),
    ('phase_fallback', 'forward', '^DistributedDataParallel\.forward$', 2, 1),
    ('phase_fallback', 'forward', '^ProfilerStep#\d+$', 3, 1),
    ('phase_fallback', 'backward', '^## backward ##$', 1, 2),
    ('phase_fallback', 'backward', '^autograd::engine::evaluate_function: ', 2, 2),
    ('phase_fallback', 'optimizer', '^## optimizer ##$', 1, 3),
    -- Lightning's module ranges: "[pl][module]<class>: <named_modules path>" (forward only)
    ('module', NULL, '^\[pl\]\[module\][^:]*: (\S+)$', 1, NULL),
    -- module hooks (anemoi_tp.capture): "<Class> <path> fwd" / "… bwd", any path:
    -- "Linear model.model.processor.proc.lin_edge fwd", "Block encoder bwd"
    ('module', NULL, '^[A-Za-z_]\w* (\S+) (?:fwd|bwd)$', 2, NULL),
    -- python_function events of with_stack traces: "nn.Module: Linear_7" (one instance)
    ('module_instance', NULL, '^nn\.Module: (\S+)$', 1, NULL),
    ('module_group', 'encoder', '^model\.model\.encoder', 1, 1),
    ('module_group', 'processor', '^model\.model\.processor', 2, 2),
    ('module_group', 'decoder', '^model\.model\.decoder', 3, 3),
    -- Anemoi's classes on instance paths: GraphTransformerForwardMapper_0 (GNN…, Transformer…),
    -- GraphTransformerProcessor_0, …ProcessorBlock_1, …ProcessorChunk_0 (GNN…, Transformer…,
    -- DynamicGraphTransformer…; not any "…Processor": LogitsProcessor), …BackwardMapper_0
    ('module_group', 'encoder', '(^|\.)\w*ForwardMapper(_\d+)?$', 4, 1),
    ('module_group', 'processor', '(^|\.)\w*(GNN|Transformer)Processor(Block|Chunk)?(_\d+)?$', 5, 2),
    ('module_group', 'decoder', '(^|\.)\w*BackwardMapper(_\d+)?$', 6, 3),
    -- the parts' attribute names on any path (a model captured without Lightning's wrappers:
    -- "encoder.0", "model.processor.proc.1")
    ('module_group', 'encoder', '(^|\.)encoder$', 7, 1),
    ('module_group', 'processor', '(^|\.)processor$', 8, 2),
    ('module_group', 'decoder', '(^|\.)decoder$', 9, 3)
) AS v(kind, label, pattern, priority, label_order)
WHERE NOT EXISTS (SELECT 1 FROM analysis_patterns);
