-- analysis/settings.sql (version 2): the name patterns that give ranges their meaning.
-- Reads: nothing.   Used by: analysis/module_ranges.sql, analysis/host_ranges.sql.
-- Defaults understand Anemoi on PyTorch Lightning; a TOML file (`--config`) replaces the
-- patterns of a kind (see anemoi_tp/config.py).
--
-- @table analysis_patterns  regular expressions (RE2, matched on whole range names)
-- @column kind         'batch' (one training batch), 'step' (fallback batch: ProfilerStep#N),
--                      'data_loader' (data loading), 'phase' (a training phase, label = which),
--                      'module' (a module range: group 1 of the pattern is the module path),
--                      'module_instance' (a module range: group 1 is one class instance; the
--                      path is made of the nested instance ranges, module_ranges.sql),
--                      'module_group' (a group of module paths, matched on each prefix of
--                      the path: the shortest matching prefix decides)
-- @column label        the phase (forward, backward, optimizer, data_loader) or module group
--                      (encoder, processor, decoder); NULL for the other kinds
-- @column pattern      the regular expression
-- @column priority     where several patterns of a kind match one name, the lowest wins
CREATE TABLE IF NOT EXISTS analysis_patterns (
    kind VARCHAR, label VARCHAR, pattern VARCHAR, priority INTEGER
);
INSERT INTO analysis_patterns
SELECT * FROM (VALUES
    ('batch', NULL, '^\[pl\]\[profile\]run_training_batch$', 1),
    ('step', NULL, '^ProfilerStep#\d+$', 1),
    ('data_loader', NULL, '^\[pl\]\[profile\]\[_TrainingEpochLoop\]\.train_dataloader_next$', 1),
    ('data_loader', NULL, '^enumerate\(DataLoader\)#', 2),
    ('phase', 'forward', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.training_step$', 1),
    ('phase', 'backward', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.backward$', 1),
    ('phase', 'optimizer', '^\[pl\]\[profile\]\[LightningModule\][^\]]*\.optimizer_step$', 1),
    ('phase', 'optimizer', '^Optimizer\.(step|zero_grad)#', 2),
    ('phase', 'optimizer', '^\[pl\]\[profile\]\[Strategy\][^\]]*\.optimizer_zero_grad$', 3),
    ('phase', 'data_loader', '^\[pl\]\[profile\]\[_TrainingEpochLoop\]\.train_dataloader_next$', 4),
    ('phase', 'data_loader', '^enumerate\(DataLoader\)#', 5),
    -- Lightning's module ranges: "[pl][module]<class>: <named_modules path>" (forward only)
    ('module', NULL, '^\[pl\]\[module\][^:]*: (\S+)$', 1),
    -- module hooks: "Linear model.model.processor.proc.lin_edge fwd" / "... bwd"
    ('module', NULL, '^\S+ (model\.\S+) (?:fwd|bwd)$', 2),
    -- python_function events of with_stack traces: "nn.Module: Linear_7" (one instance)
    ('module_instance', NULL, '^nn\.Module: (\S+)$', 1),
    ('module_group', 'encoder', '^model\.model\.encoder', 1),
    ('module_group', 'processor', '^model\.model\.processor', 2),
    ('module_group', 'decoder', '^model\.model\.decoder', 3),
    -- Anemoi's classes on instance paths: GraphTransformerForwardMapper_0 (GNN…, Transformer…),
    -- GraphTransformerProcessor_0, …ProcessorBlock_1, …ProcessorChunk_0 (GNN…, Transformer…,
    -- DynamicGraphTransformer…; not any "…Processor": LogitsProcessor), …BackwardMapper_0
    ('module_group', 'encoder', '(^|\.)\w*ForwardMapper(_\d+)?$', 4),
    ('module_group', 'processor', '(^|\.)\w*(GNN|Transformer)Processor(Block|Chunk)?(_\d+)?$', 5),
    ('module_group', 'decoder', '(^|\.)\w*BackwardMapper(_\d+)?$', 6)
) AS v(kind, label, pattern, priority)
WHERE NOT EXISTS (SELECT 1 FROM analysis_patterns);
