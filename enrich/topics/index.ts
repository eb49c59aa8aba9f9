/** Topics per channel and time window: pure computation and the ClickHouse refresh job. */
export { computeTopics, type Topic, type TopicEmbedder, type TopicMessage, type TopicMethod, type TopicOptions, type TopicResult } from './compute.ts';
export { refreshTopics, type RefreshTopicsOptions, type RefreshTopicsResult } from './refresh.ts';
export { cTfIdf, messageTerms, STOPWORDS } from './terms.ts';
export { sphericalKMeans } from './kmeans.ts';
